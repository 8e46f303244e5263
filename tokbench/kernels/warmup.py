"""`tokbench warmup`: compile every numba kernel once, into the user cache (`tokbench.kernels.kernel_cache_dir`).

numba compiles a function for each signature it is called with, so the warm-up runs the real code paths on tiny
inputs (the same array types as a real run): word counting for every pre-tokenizer preset, the BPE merge loop, the
three supertoken trainers, hash partitioning, the encoder's table builders and encoding for every scanner, and the
byte-level probability kernels; then the encoder tables of the zoo's tiktoken tokenizers built so far (cached on
disk, `fast_bpe.rank_file_tables`). A kernel already cached loads instead of compiling, so a second warm-up is quick.
The one module in kernels/ that is not array code: it lives beside the kernels and their cache, and imports the code
paths it drives inside its functions (the kernels themselves still import nothing of tokbench).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

TEXT = ("The quick brown fox's 12 jumps; it'LL be fine.\r\n\tTabs  and spaces  \n\nTürkçe İstanbul'da 3 gün!\n"
        "中文句子。 😀 a\u3000b café e\u0301 ½ <|endoftext|>\nno final newline   ") * 3


def _counting() -> None:
    from tokbench.tokenizer import presets as pretok
    from tokbench.train.counts import count_blocks, count_words

    for name in pretok.PRETOKENIZERS:
        for normalizer in ("none", "nfc"):
            counts = count_words(TEXT.splitlines(keepends=True), name, normalizer, threads=1)
        count_blocks([TEXT], name, threads=1)
    for part in counts.partition(2):
        part.at_least(2)
    type(counts).sum(counts.partition(2))  # the linear merge of canonical tables


def _training() -> None:
    from tokbench.train.bpe import train_bpe_counts
    from tokbench.train.counts import count_words

    train_bpe_counts(count_words(TEXT.splitlines(keepends=True), "gpt2", threads=1), 300, 0, ["<|endoftext|>"])


def _supertokens() -> None:
    from tokbench.train import supertokens

    lines = TEXT.splitlines(keepends=True)
    supertokens.train_superbpe(lines, 320)
    supertokens.train_supertoken(lines, 320)
    supertokens.train_char_bpe(lines, 320)


def _encoding() -> None:
    from tokbench.tokenizer import fast_bpe
    from tokbench.tokenizer import presets as pretok
    from tokbench.tokenizer.fast_bpe import BPEEncoder
    from tokbench.train.bpe import train_bpe_counts
    from tokbench.train.counts import count_words

    fast_bpe.use_kernels()  # small batches would otherwise skip the encoding kernels (fast_bpe.SMALL_BUDGET)
    hf = train_bpe_counts(count_words(TEXT.splitlines(keepends=True), "gpt2", threads=1), 300, 0, ["<|endoftext|>"])
    enc = BPEEncoder.from_tokenizer_json(hf, encode_special_tokens=False)
    enc.encode_batch([TEXT], threads=1)
    ranks = {bytes([b]): b for b in range(256)}
    for token in sorted({w.encode() for w in pretok.split(TEXT, "gpt2")}, key=len):
        if len(token) > 1 and token[:-1] in ranks and token[-1:] in ranks:
            ranks[token] = len(ranks)
    with tempfile.TemporaryDirectory() as folder:
        import base64
        import json

        rank_file = Path(folder) / "warmup.tiktoken"
        rank_file.write_bytes(b"".join(base64.b64encode(t) + b" %d\n" % r for t, r in ranks.items()))
        fast_bpe.tables_from_ranks(*fast_bpe.read_ranks_arrays(rank_file))  # the table builders, even when cached
        for name in ("gpt2", "cl100k", "o200k", "whitespace-kept"):
            desc = Path(folder) / f"{name}.json"
            desc.write_text(json.dumps({"type": "tiktoken", "name": name, "ranks": rank_file.name,
                                        "pattern": pretok.pattern(name), "special_tokens": {}}))
            BPEEncoder.from_descriptor(desc).encode_batch([TEXT, TEXT[:40]], threads=1)


def _zoo_tables() -> None:
    """The encoder tables of every zoo tiktoken tokenizer built so far, into their on-disk cache (the others get
    theirs when they are built, at their first use)."""
    from tokbench.tokenizer import formats, zoo
    from tokbench.tokenizer.fast_bpe import rank_file_tables

    for row in zoo.records():
        if row["built"] and not row["path"].endswith("tokenizer.json") and formats.is_descriptor(row["path"]):
            desc = formats.read_descriptor(row["path"])
            rank_file_tables(desc["ranks"], desc["id_offset"])


def _byteprob() -> None:
    import numpy as np

    from tokbench.byteprob import ByteLM
    from tokbench.tokenizer import load_tokenizer
    from tokbench.train.bpe import train_bpe_counts
    from tokbench.train.counts import count_words

    hf = train_bpe_counts(count_words(TEXT.splitlines(keepends=True), "gpt2", threads=1), 300, 0, ["<|endoftext|>"])
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "tokenizer.json"
        hf.save(str(path))
        tok = load_tokenizer(str(path))

        class Uniform:
            """Every next token equally likely: enough to drive the byte-probability kernels."""

            eos_id = 0

            def next_logprobs(self, ids):
                return np.full(tok.vocab_size, -np.log(tok.vocab_size))

        ByteLM(tok, Uniform()).next_byte_logprobs(b"The quick")


STEPS: dict[str, Callable[[], None]] = {
    "word counting": _counting,
    "BPE training": _training,
    "supertokens": _supertokens,
    "encoding": _encoding,
    "encoder tables": _zoo_tables,
    "byte probabilities": _byteprob,
}


def warmup(report: Callable[[str], None] = lambda line: None) -> dict[str, float]:
    """Run every step; returns seconds per step. A step that fails raises (a broken kernel must not hide here), and
    so does a cache that cannot be written (the cache is what this is for: WorkError naming the folder)."""
    from tokbench.errors import WorkError
    from tokbench.kernels import jit, kernel_cache_dir

    report(f"numba cache: {kernel_cache_dir()}")
    jit.warn = False
    seconds = {}
    for name, step in STEPS.items():
        started = time.perf_counter()
        step()
        if jit.cache_write_error():
            raise WorkError(f"cannot write the kernel cache in {jit.cache_write_error()}")
        seconds[name] = time.perf_counter() - started
        report(f"{name}: {seconds[name]:.1f}s")
    return seconds


def register(app) -> None:
    """Mount `tokbench warmup` (typer is imported by the caller, not here: this module stays light)."""

    @app.command("warmup")
    def warmup_command() -> None:
        """Compile every numba kernel into the user cache now (make setup runs this), so no later command compiles."""
        import sys

        seconds = warmup(lambda line: print(line, file=sys.stderr))
        print(f"kernels ready ({sum(seconds.values()):.1f}s)", file=sys.stderr)
