"""Benchmark `tokbench eval`: the full metric suite per tokenizer vs encoding alone with the reference encoder.

For each of five zoo tokenizers, times (a) the whole evaluation of one tokenizer (streaming, word segmentation,
all metrics incl. %TR/%Pure and Turkish morphology, round-trip decode) and (b) the reference implementation's batch
encoder alone on the same documents: HF `tokenizers` `encode_batch` where the tokenizer has a Hugging Face form,
tiktoken `encode_ordinary_batch` for the tiktoken-format ones. Both sides must produce the same token count. The input
is about --mb MB of real text, half English and half Turkish (FLORES-200 lines, cycled), cut into ~64 kB documents.
Writes reports/bench/eval.json.

    python -m bench.eval [--mb 50] [--tokenizers gpt2,llama3,...] [--out reports/bench/eval.json]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLORES = next((p / "shared" / "corpora" / "flores200" for p in (ROOT.parent, ROOT.parent.parent)
               if (p / "shared" / "corpora" / "flores200").is_dir()), None)
DEFAULT = "gpt2,llama3,cl100k_base,o200k_base,bert-base-uncased"


def make_corpus(lang_code: str, mb: float, dest: Path, doc_bytes: int = 64_000) -> list[str]:
    """~`mb` MB of FLORES lines for one language (cycled), written as ~64 kB documents into `dest`."""
    lines = []
    for split in ("dev", "devtest"):
        lines += (FLORES / f"{lang_code}.{split}").read_text(encoding="utf-8").splitlines(keepends=True)
    want, size, docs, cur, cur_size, i = int(mb * 1e6), 0, [], [], 0, 0
    while size < want:
        line = lines[i % len(lines)]
        i += 1
        cur.append(line)
        n = len(line.encode())
        cur_size += n
        size += n
        if cur_size >= doc_bytes:
            docs.append("".join(cur))
            cur, cur_size = [], 0
    if cur:
        docs.append("".join(cur))
    dest.mkdir(parents=True)
    for k, d in enumerate(docs):
        (dest / f"{k:05d}.txt").write_text(d, encoding="utf-8")
    return docs


def reference_encoder(name: str):
    """(label, batch encode function -> list of id lists) of the reference implementation for a zoo tokenizer."""
    from tokbench.tokenizer import formats, zoo
    from tokbench.tokenizer import load_tokenizer

    path = zoo.resolve(name)
    if formats.is_descriptor(path):
        enc, normalize = formats.descriptor_encoding(path)
        return "tiktoken encode_ordinary_batch", lambda docs: enc.encode_ordinary_batch([normalize(d) for d in docs])
    hf = load_tokenizer(name).hf()
    return "HF tokenizers encode_batch", lambda docs: [e.ids for e in hf.encode_batch(docs, add_special_tokens=False)]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=50.0, help="total MB of text (half en, half tr)")
    ap.add_argument("--tokenizers", default=DEFAULT)
    ap.add_argument("--out", type=Path, default=ROOT / "reports" / "bench" / "eval.json")
    args = ap.parse_args(argv)
    if FLORES is None:
        sys.exit("bench/eval.py: needs ../shared/corpora/flores200")
    from tokbench.eval.run import Evaluation
    from tokbench.io import write_json
    from tokbench.tokenizer import load_tokenizer

    names = [n for n in args.tokenizers.split(",") if n]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        en = make_corpus("eng_Latn", args.mb / 2, Path(tmp) / "en")
        tr = make_corpus("tur_Latn", args.mb / 2, Path(tmp) / "tr")
        docs = en + tr
        nbytes = sum(len(d.encode()) for d in docs)
        for name in names:
            tok = load_tokenizer(name)
            label, encode = reference_encoder(name)
            encode(docs[:2])  # warm-up (lazy tables)
            t0 = time.perf_counter()
            ref_tokens = 0
            for i in range(0, len(docs), 16):
                ref_tokens += sum(len(ids) for ids in encode(docs[i:i + 16]))
            ref_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            ev = Evaluation([tok], [(str(Path(tmp) / "en"), "en"), (str(Path(tmp) / "tr"), "tr")])
            eval_s = time.perf_counter() - t0
            recs = ev.records
            tokens = sum(r["tokens"] for r in recs)
            row = {
                "tokenizer": name, "mb": round(nbytes / 1e6, 3), "tokens": tokens, "reference": label,
                "reference_tokens": ref_tokens, "tokens_agree": tokens == ref_tokens,
                "reference_encode_s": round(ref_s, 3), "reference_encode_mb_s": round(nbytes / 1e6 / ref_s, 3),
                "eval_s": round(eval_s, 3), "eval_mb_s": round(nbytes / 1e6 / eval_s, 3),
                "eval_encode_mb_s": round(nbytes / 1e6 / sum(s.encode_seconds for s in ev.stats), 3),
                "eval_vs_reference_encode": round(ref_s / eval_s, 3),
            }
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    out = {"benchmark": "tokbench eval, full metric suite vs reference batch encoding alone",
           "input": "FLORES-200 eng_Latn + tur_Latn lines cycled to --mb, ~64 kB documents",
           "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
           "rows": rows}
    write_json(args.out, out)
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
