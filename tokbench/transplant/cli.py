"""Thin typer wrappers for `tokbench transplant` and `tokbench hypernet train`; the logic lives in
core/evaluate/hypernet_train and tokbench.lm. `register(app)` mounts them on the main app."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from tokbench.console import print_table
from tokbench.errors import UsageError, flags
from tokbench.io import TABLE_OR_JSON, check_format
from tokbench.options import ContextOpt, FormatOpt, MaxBytesOpt, ModelOpt, above, at_least, between
from tokbench.transplant import methods


@flags(steps="--heal-steps", batch_size="--heal-batch-size", seq_len="--heal-seq-len", lr="--heal-lr")
def transplant_command(
    model: ModelOpt,
    tokenizer: Annotated[str, typer.Option("--tokenizer", "-t", help="the new tokenizer: file, folder or zoo name")],
    out: Annotated[Path, typer.Option("--out", "-o", help="output model folder")],
    method: Annotated[str, typer.Option("--method", help=", ".join(methods.names()))] = "tokenadapt",
    evaluate: Annotated[Optional[list[str]], typer.Option("--evaluate", help="held-out corpus to score both models")] = None,
    keep_special: Annotated[str, typer.Option("--keep-special", help="old: keep the model's special tokens and roles; "
                                                                     "new: the new tokenizer's")] = "old",
    pad_to_multiple_of: Annotated[Optional[int], typer.Option("--pad-to-multiple-of", callback=at_least(1))] = None,
    temperature: Annotated[Optional[float], typer.Option("--temperature", callback=above(0), help="TokenAdapt and FOCUS T (0.3)")] = None,
    top_k: Annotated[Optional[int], typer.Option("--top-k", callback=at_least(1), help="TokenAdapt global neighbours (3); FOCUS "
                                                                 "candidates (64)")] = None,
    k: Annotated[Optional[int], typer.Option("--k", callback=at_least(1), help="OMP: shared tokens per new token (64)")] = None,
    centre: Annotated[Optional[bool], typer.Option("--centre/--no-centre", help="OMP: code about the atoms' mean row "
                                                   "(affine; default on), or mergekit's raw code")] = None,
    shrink: Annotated[Optional[float], typer.Option("--shrink", callback=above(0), help="OMP: new row = mean + s "
                                                    "(code - mean), 0 < s <= 1 (0.5)")] = None,
    weight: Annotated[Optional[float], typer.Option("--weight", callback=between(0, 1), help="TokenAdapt lambda, global share (0.3)")] = None,
    threshold: Annotated[Optional[float], typer.Option("--threshold", callback=between(-1, 1), help="TokenAdapt min global cosine (0.5)")] = None,
    aux: Annotated[Optional[str], typer.Option("--aux", help="aux space (tokenadapt, omp, focus): minilm, glove, "
                                                             "self")] = None,
    hypernet: Annotated[Optional[Path], typer.Option("--hypernet", help="zett: a folder from `tokbench hypernet train`")] = None,
    seed: Annotated[int, typer.Option("--seed", callback=at_least(0))] = 0,
    force: Annotated[bool, typer.Option("--force", help="replace --out if it exists")] = False,
    heal_steps: Annotated[int, typer.Option("--heal-steps", callback=at_least(0), help="then train only the new rows for N steps")] = 0,
    heal_corpus: Annotated[Optional[list[str]], typer.Option("--heal-corpus", help="text for --heal-steps")] = None,
    heal_lr: Annotated[float, typer.Option("--heal-lr", callback=above(0))] = 1e-3,
    heal_batch_size: Annotated[int, typer.Option("--heal-batch-size", callback=at_least(1), help="sequences per heal step")] = 4,
    heal_seq_len: Annotated[int, typer.Option("--heal-seq-len", callback=at_least(2), help="tokens per heal sequence")] = 128,
    heal_max_bytes: Annotated[Optional[int], typer.Option("--heal-max-bytes", callback=at_least(1), help="read at most this much")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="continue an interrupted heal from OUT.heal/")] = False,
    context: ContextOpt = 1024,
    max_bytes: MaxBytesOpt = 200_000,
    fmt: FormatOpt = "table",
    allow_special: Annotated[bool, typer.Option(
        "--allow-special", help="special-token text (<|endoftext|>, <s>) is those tokens, as models see chat-formatted "
        "data: in the heal corpus (the new tokenizer, the model's appended specials included) and in --evaluate (both "
        "models); default: plain text")] = False,
) -> None:
    """Give a pretrained causal LM a new tokenizer and save it as a Hugging Face model folder."""
    from tokbench.transplant.core import transplant

    check_format(fmt, TABLE_OR_JSON)
    from tokbench.io import claim_output
    from tokbench.transplant.core import check_pad

    check_pad(pad_to_multiple_of)
    claim_output(out, force)  # before any loading
    if aux is not None and aux not in ("minilm", "glove", "self"):
        raise UsageError(f"--aux must be minilm, glove or self, not {aux!r}")
    params = {"temperature": temperature, "top_k": top_k, "k": k, "centre": centre, "shrink": shrink, "weight": weight, "threshold": threshold,
              "aux": aux, "hypernet": str(hypernet) if hypernet is not None else None}
    params = {k: v for k, v in params.items() if v is not None}
    from tokbench.corpus import read_texts

    heal = None
    if heal_steps or heal_corpus or resume:
        from tokbench.transplant.heal import HealOptions, HealRequest, check_work

        if not heal_corpus:
            raise UsageError("--heal-steps needs --heal-corpus (text to train the new rows on)")
        opts = HealOptions(steps=heal_steps, batch_size=heal_batch_size, seq_len=heal_seq_len, lr=heal_lr, seed=seed,
                           allow_special=allow_special)
        opts.check()
        work = out.with_name(out.name + ".heal")
        check_work(work, resume, force)
        heal = HealRequest(opts, read_texts(heal_corpus, heal_max_bytes), list(heal_corpus), work, resume)
    texts = read_texts(evaluate, max_bytes) if evaluate else None  # read first: a bad corpus fails before any work
    from tokbench.lm import load_lm

    original = load_lm(model)
    result = transplant(model, tokenizer, method=method, out=out, keep_special=keep_special,
                        pad_to_multiple_of=pad_to_multiple_of, seed=seed, force=force, params=params, lm=original,
                        heal=heal)
    record = {"out": str(out), "method": method, **result.counts, "seconds": round(result.seconds, 2)}
    if heal is not None:
        h = result.manifest["heal"]
        record.update(heal_steps=h["steps"], heal_first_loss=h["first_loss"], heal_last_loss=h["last_loss"],
                      heal_seconds=h["seconds"])
    if texts is not None:
        from tokbench.transplant.evaluate import compare

        models = [load_lm(model), load_lm(out)]
        if allow_special:
            for lm in models:
                lm.tokenizer = lm.tokenizer.allowing_special()
        record.update(compare(*models, texts, context=context))
    if fmt == "json":
        print(json.dumps(record))
    else:
        print_table([record], f"transplant -> {out}", digits=4)


hypernet_app = typer.Typer(no_args_is_help=True, help="ZeTT-style hypernetworks for zero-shot tokenizer transfer.")
@hypernet_app.command("train")
def hypernet_train(
    model: Annotated[str, typer.Option("--model", "-m", help="HF model folder, .gguf file, or zoo name (smollm2)")],
    corpus: Annotated[list[str], typer.Option("--corpus", "-c", help="training text: files, folders, globs")],
    out: Annotated[Path, typer.Option("--out", "-o", help="hypernetwork folder")],
    steps: Annotated[int, typer.Option("--steps", callback=at_least(1), help="total steps, warm-up included")] = 300,
    batch_size: Annotated[int, typer.Option("--batch-size", callback=at_least(1), help="sequences per step")] = 4,
    seq_len: Annotated[int, typer.Option("--seq-len", callback=at_least(2), help="tokens per sequence")] = 128,
    lr: Annotated[float, typer.Option("--lr", callback=above(0))] = 3e-4,
    layers: Annotated[int, typer.Option("--layers", callback=at_least(0), help="transformer layers over the pieces (0: MLP only)")] = 2,
    width: Annotated[int, typer.Option("--width", callback=at_least(8), help="hidden size of the hypernetwork")] = 256,
    max_pieces: Annotated[int, typer.Option("--max-pieces", callback=at_least(1), help="old pieces the network reads per token")] = 8,
    warmup_steps: Annotated[int, typer.Option("--warmup-steps", callback=at_least(0), help="reconstruction-only steps first")] = 30,
    vocab_min: Annotated[int, typer.Option("--vocab-min", callback=at_least(8), help="smallest sampled unigram vocabulary")] = 1000,
    vocab_max: Annotated[int, typer.Option("--vocab-max", callback=at_least(8), help="largest sampled unigram vocabulary")] = 8000,
    save_every: Annotated[int, typer.Option("--save-every", callback=at_least(1), help="checkpoint every N steps")] = 25,
    time_limit: Annotated[float, typer.Option("--time-limit", callback=at_least(0), help="minutes; stop (checkpointed) after it")] = 0.0,
    resume: Annotated[bool, typer.Option("--resume", help="continue the run saved in --out")] = False,
    force: Annotated[bool, typer.Option("--force", help="start over, replacing --out")] = False,
    seed: Annotated[int, typer.Option("--seed", callback=at_least(0))] = 0,
    text_field: Annotated[str, typer.Option("--text-field", help="field holding the text in .jsonl inputs")] = "text",
    allow_special: Annotated[bool, typer.Option(
        "--allow-special", help="the model's special-token text in the corpus (<|endoftext|>) is those tokens, with "
        "the model's own rows, as it sees chat-formatted data; default: plain text")] = False,
) -> None:
    """Train a hypernetwork for MODEL on fresh unigram tokenizers sampled from the corpus (JSON summary on stdout)."""
    from tokbench.transplant.hypernet_train import TrainOptions, train as train_hypernet

    opts = TrainOptions(steps=steps, batch_size=batch_size, seq_len=seq_len, lr=lr, layers=layers, width=width,
                        max_pieces=max_pieces, warmup_steps=warmup_steps, vocab_min=vocab_min, vocab_max=vocab_max,
                        save_every=save_every, time_limit=time_limit, seed=seed, allow_special=allow_special)
    from tokbench.io import claim_output

    claim_output(out, force=True)  # resuming into it is allowed: train() decides; this refuses `-o .`, clears temps
    summary = train_hypernet(model, corpus, out, opts, resume=resume, force=force, text_field=text_field)
    print(json.dumps(summary))


def register(app: typer.Typer) -> None:
    """Add `transplant` and `hypernet` to the main tokbench app."""
    app.command("transplant")(transplant_command)
    app.add_typer(hypernet_app, name="hypernet")
