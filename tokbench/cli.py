"""The `tokbench` command: thin wrappers that parse flags, call the library and format output.

This is the one place that turns a TokbenchError into a one-line message and an exit code (2 usage, 1 failed work).
"""

from __future__ import annotations

import contextlib
import json
import sys
import traceback
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from tokbench.errors import TokbenchError, UsageError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Train, transplant and evaluate tokenizers.", rich_markup_mode=None)

TokenizerOpt = Annotated[str, typer.Option("--tokenizer", "-t", help="tokenizer.json, folder, .model, or zoo name")]
TextField = Annotated[str, typer.Option("--text-field", help="field holding the text in .jsonl inputs")]
Errors = Annotated[str, typer.Option("--errors", help="invalid UTF-8: strict (fail) or replace")]
ForceOpt = Annotated[bool, typer.Option("--force", help="replace an existing --out (atomically)")]


class TokenizeFormat(str, Enum):
    ids = "ids"
    tokens = "tokens"
    jsonl = "jsonl"
    count = "count"


@app.command()
def zoo(fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table") -> None:
    """List the named production tokenizers (built offline from registry packages)."""
    from tokbench import zoo as zoo_mod

    names = zoo_mod.names()
    if fmt == "json":
        print(json.dumps(names))
    elif fmt == "table":
        from tokbench.report_console import print_table

        print_table([{k: r[k] for k in ("name", "summary", "built")} for r in zoo_mod.records()],
                    title="tokbench zoo")
    else:
        raise UsageError(f"--format must be table or json, not {fmt!r}")


@app.command()
def tokenize(
    tokenizer: TokenizerOpt,
    path: Annotated[str, typer.Argument(help="input file, or - for stdin")] = "-",
    fmt: Annotated[TokenizeFormat, typer.Option("--format", help="ids, tokens, jsonl or count")] = TokenizeFormat.ids,
    lines: Annotated[bool, typer.Option("--lines", help="each line is its own document")] = False,
    text_field: TextField = "text",
    errors: Errors = "strict",
) -> None:
    """Tokenize a file or stdin (no special tokens added)."""
    from tokbench.commands import tokenize_stream

    tokenize_stream(tokenizer, path, fmt.value, lines=lines, text_field=text_field, errors=errors, out=sys.stdout)


PretokOpt = Annotated[str, typer.Option("--pretokenizer", help="gpt2, cl100k, llama3, qwen2, o200k, whitespace, whitespace-kept, none")]
NormOpt = Annotated[str, typer.Option("--normalizer", help="nfc, nfkc, none")]


@app.command()
def count(
    corpus: Annotated[list[str], typer.Argument(help="files, folders, globs, or - for stdin")],
    out: Annotated[Path, typer.Option("--out", "-o", help="counts.parquet")],
    pretokenizer: PretokOpt = "gpt2",
    normalizer: NormOpt = "none",
    text_field: TextField = "text",
    errors: Errors = "strict",
    force: ForceOpt = False,
) -> None:
    """Count pre-tokenized words into a parquet table; sum shards with `train --from-counts`."""
    from tokbench.commands import count_command

    count_command(corpus, out, pretokenizer, normalizer, text_field, errors, force=force)


@app.command()
def train(
    corpus: Annotated[Optional[list[str]], typer.Argument(help="files, folders, globs, or - for stdin")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="tokenizer.json path, or a folder")] = Path("tokenizer.json"),
    algo: Annotated[str, typer.Option(
        "--algo", help="bpe, unigram, wordpiece, sp-bpe, sp-unigram, superbpe, supertoken, char-bpe")] = "bpe",
    vocab_size: Annotated[int, typer.Option("--vocab-size", help="size of the vocabulary, specials included")] = 8000,
    min_frequency: Annotated[int, typer.Option("--min-frequency")] = 0,
    special_tokens: Annotated[str, typer.Option("--special-tokens", help="comma-separated")] = "",
    pretokenizer: PretokOpt = "gpt2",
    normalizer: NormOpt = "none",
    engine: Annotated[str, typer.Option("--engine", help="bpe engine: numba (tokbench's) or hf (tokenizers')")] = "numba",
    from_counts: Annotated[Optional[list[Path]], typer.Option("--from-counts", help="train on count tables")] = None,
    text_field: TextField = "text",
    errors: Errors = "strict",
    transition: Annotated[Optional[float], typer.Option(
        "--transition", help="superbpe: stage-2 start, a fraction of --vocab-size (<1) or a vocab size")] = None,
    max_words: Annotated[Optional[int], typer.Option("--max-words", help="superbpe: words per token (4)")] = None,
    chunk_min: Annotated[Optional[int], typer.Option("--chunk-min", help="supertoken: shortest piece (4)")] = None,
    chunk_max: Annotated[Optional[int], typer.Option("--chunk-max", help="supertoken: longest piece (23)")] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", help="supertoken: random seed (0)")] = None,
    max_token_chars: Annotated[Optional[int], typer.Option(
        "--max-token-chars", help="char-bpe: characters per token (4)")] = None,
    pad_vocab_pow2: Annotated[Optional[bool], typer.Option(
        "--pad-vocab-pow2", help="char-bpe: pad the vocabulary to a power of two")] = None,
    force: ForceOpt = False,
) -> None:
    """Train a tokenizer; writes a standard tokenizer.json. Also --algo superbpe, supertoken, char-bpe."""
    from tokbench.commands import train_command

    specials = [s for s in special_tokens.split(",") if s]
    if not corpus and not from_counts:
        raise UsageError("give a corpus (or - for stdin), or --from-counts")
    train_command(corpus or [], out, algo=algo, vocab_size=vocab_size, min_frequency=min_frequency,
                  special_tokens=specials, pretokenizer=pretokenizer, normalizer=normalizer,
                  text_field=text_field, errors=errors, engine=engine, from_counts=from_counts or (), force=force,
                  super_options=dict(transition=transition, max_words=max_words, chunk_min=chunk_min,
                                     chunk_max=chunk_max, seed=seed, max_token_chars=max_token_chars,
                                     pad_vocab_pow2=pad_vocab_pow2))


@app.command()
def sweep(
    corpus: Annotated[list[str], typer.Argument(help="training files, folders, globs")],
    out: Annotated[Path, typer.Option("--out", "-o", help="folder for the tokenizers, sweep.json and the plot")],
    eval_corpus: Annotated[list[str], typer.Option("--eval", help="held-out text for bytes/token")],
    algo: Annotated[str, typer.Option("--algo", help="superbpe")] = "superbpe",
    transition: Annotated[str, typer.Option("--transition", help="comma-separated transition points")] = "0.4,0.6,0.8",
    vocab_size: Annotated[int, typer.Option("--vocab-size")] = 32000,
    max_words: Annotated[int, typer.Option("--max-words")] = 4,
    pretokenizer: Annotated[str, typer.Option("--pretokenizer", help="stage 1: gpt2, cl100k, llama3")] = "gpt2",
    fmt: Annotated[str, typer.Option("--format", help="json, jsonl, csv or md (stdout)")] = "json",
    text_field: TextField = "text",
    errors: Errors = "strict",
    force: ForceOpt = False,
) -> None:
    """Train superbpe at several transition points (and plain BPE) and report bytes/token on --eval, with a plot."""
    from tokbench.train.sweep import sweep_command

    sweep_command(corpus, out, eval_corpus, algo=algo, transitions=transition, vocab_size=vocab_size,
                  max_words=max_words, pretokenizer=pretokenizer, fmt=fmt, text_field=text_field, errors=errors,
                  force=force)


@app.command()
def demo(out: Annotated[Path, typer.Option("--out", "-o")] = Path("reports/demo"), force: ForceOpt = False) -> None:
    """Train BPE and unigram on bundled text and compare them with zoo tokenizers on bundled corpora."""
    from tokbench.demo import run_demo
    from tokbench.io import claim_output

    claim_output(out, force)
    run_demo(out)


def _register_capabilities() -> None:
    """Each capability keeps its thin wrappers beside its code: <package>/cli.py exposes register(app)."""
    import importlib

    for module in ("tokbench.eval.cli", "tokbench.transplant.cli", "tokbench.byteprob.cli"):
        importlib.import_module(module).register(app)


_register_capabilities()


def main(argv: Optional[list[str]] = None) -> None:
    """Entry point: runs the app, mapping errors to one line on stderr and an exit code."""
    from tokbench.errors import install_signal_handlers, received_signal
    from tokbench.io import finish_stdout, guard_stdio

    guard_stdio()
    install_signal_handlers()
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    if debug:
        args.remove("--debug")
    try:
        code = app(args=args, prog_name="tokbench", standalone_mode=False)
        if received_signal() is not None or code == 130:  # typer turns Ctrl-C into a silent Exit(130)
            raise KeyboardInterrupt
        finish_stdout()
    except BaseException as exc:  # noqa: BLE001 - every way out gets its one line and exit code here
        code = _exit_code(exc, args, debug)
    else:
        code = code if isinstance(code, int) else 0  # without standalone mode, click returns typer.Exit's code
    sys.exit(code)


def _exit_code(exc: BaseException, args: list[str], debug: bool) -> int:
    """The one line (on stderr) and exit code for whatever ended the command."""
    import signal

    from typer._click.exceptions import ClickException, NoArgsIsHelpError  # typer 0.29 vendors click

    from tokbench.errors import received_signal
    from tokbench.io import finish_stdout, silence_stdout

    def say(line: str) -> None:
        with contextlib.suppress(Exception):
            print(f"tokbench: {line}", file=sys.stderr, flush=True)

    signum = received_signal()
    if signum is not None:  # whatever it surfaced as (numba: SystemError), the run was interrupted
        say("interrupted" if signum == signal.SIGINT else f"terminated ({signal.Signals(signum).name})")
        return 128 + signum
    if isinstance(exc, SystemExit):
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    if isinstance(exc, typer.Exit):
        return exc.exit_code
    if isinstance(exc, (typer.Abort, KeyboardInterrupt)):
        if isinstance(exc.__context__, EOFError):  # click turns an EOFError anywhere into Abort
            say("error: unexpected end of input (EOFError)")
            return 1
        say("interrupted")
        return 130
    if isinstance(exc, NoArgsIsHelpError):
        exc.show()
        return 2
    if isinstance(exc, ClickException):
        exc.show()
        return exc.exit_code
    if debug and isinstance(exc, Exception):
        traceback.print_exception(exc)
        return 1
    if isinstance(exc, TokbenchError):
        say(f"error: {exc}")
        return exc.exit_code
    if isinstance(exc, BrokenPipeError):  # `| head`: quiet, as other tools are
        silence_stdout()
        return 1
    if isinstance(exc, MemoryError) or (isinstance(exc, RuntimeError) and "can't allocate memory" in str(exc)):
        say(f"error: out of memory{_size_hint(args)}")
        return 1
    if isinstance(exc, OSError) and exc.filename:
        say(f"error: {exc.filename}: {exc.strerror or exc}")
        return 1
    if isinstance(exc, OSError):  # a write without a file name: stdout, if flushing it fails again
        try:
            finish_stdout()
        except BrokenPipeError:
            return 1
        except TokbenchError as stdout_error:
            say(f"error: {stdout_error}")
            return 1
    say(f"internal error: {type(exc).__name__}: {exc} (rerun with --debug)")
    return 1


def _size_hint(args: list[str]) -> str:
    """Name the size-like flag most likely to have asked for the memory: the one given the largest number."""
    sizes = []
    for i, arg in enumerate(args):
        flag, _, value = arg.partition("=")
        if not value and i + 1 < len(args):
            value = args[i + 1]
        if flag.startswith("--") and value.isdigit():
            sizes.append((int(value), flag))
    if not sizes:
        return " (the input is too large for this machine)"
    value, flag = max(sizes)
    return f": {flag} {value} asks for more than this machine has; give a smaller {flag}"


if __name__ == "__main__":
    main()
