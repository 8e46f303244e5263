"""`tokbench zoo` and `tokbench tokenize`: thin typer wrappers over the adapter; `register(app)` mounts them."""

from __future__ import annotations

import json
import sys
from enum import Enum
from typing import Annotated, TextIO

import typer

from tokbench.options import TABLE_OR_JSON, AllowSpecial, Errors, TextField, ThreadsOpt, TokenizerOpt, check_format

BATCH = 256  # documents (or lines) encoded per call


class TokenizeFormat(str, Enum):
    ids = "ids"
    tokens = "tokens"
    jsonl = "jsonl"
    count = "count"


def zoo_command(fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table") -> None:
    """List the named production tokenizers (built offline from registry packages)."""
    from tokbench.tokenizer import zoo

    check_format(fmt, TABLE_OR_JSON)
    if fmt == "json":
        print(json.dumps(zoo.names()))
    else:
        from tokbench.console import print_table

        print_table([{k: r[k] for k in ("name", "summary", "built")} for r in zoo.records()], title="tokbench zoo")


def tokenize_command(
    tokenizer: TokenizerOpt,
    path: Annotated[str, typer.Argument(help="input file, or - for stdin")] = "-",
    fmt: Annotated[TokenizeFormat, typer.Option("--format", help="ids, tokens, jsonl or count")] = TokenizeFormat.ids,
    lines: Annotated[bool, typer.Option("--lines", help="each line is its own document")] = False,
    text_field: TextField = "text",
    errors: Errors = "strict",
    threads: ThreadsOpt = None,
    allow_special: AllowSpecial = False,
) -> None:
    """Tokenize a file or stdin (no special tokens added unless --allow-special reads them from the text)."""
    from tokbench.io import set_threads

    set_threads(threads)
    tokenize_stream(tokenizer, path, fmt.value, lines=lines, text_field=text_field, errors=errors, out=sys.stdout,
                    allow_special=allow_special)


def tokenize_stream(spec: str, path: str, fmt: str, lines: bool, text_field: str, errors: str, out: TextIO,
                    allow_special: bool = False) -> None:
    """Write ids/tokens/jsonl/count for each document (or line), streaming in batches."""
    from tokbench.corpus import Corpus
    from tokbench.io import iter_chunks
    from tokbench.tokenizer import load_tokenizer

    tok = load_tokenizer(spec)
    tok = tok.allowing_special() if allow_special else tok
    corpus = Corpus([path], text_field=text_field, errors=errors)
    units = (line.rstrip("\n") for line in corpus.lines()) if lines else corpus.documents()
    total = 0
    for batch in iter_chunks(units, BATCH):
        for text, ids in zip(batch, tok.encode_batch(batch)):
            total += len(ids)
            if fmt == "ids":
                out.write(" ".join(map(str, ids)) + "\n")
            elif fmt == "tokens":
                out.write(" ".join(json.dumps(tok.token_bytes(i).decode("utf-8", "backslashreplace"),
                                              ensure_ascii=False) for i in ids) + "\n")
            elif fmt == "jsonl":
                out.write(json.dumps({"text": text, "ids": ids, "tokens": [tok.id_to_token(i) for i in ids]},
                                     ensure_ascii=False) + "\n")
            elif fmt == "count" and lines:
                out.write(f"{len(ids)}\n")
    if fmt == "count" and not lines:
        out.write(f"{total}\n")


def register(app: typer.Typer) -> None:
    """Add `zoo` and `tokenize` to the main tokbench app."""
    app.command("zoo")(zoo_command)
    app.command("tokenize")(tokenize_command)
