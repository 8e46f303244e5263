"""Benchmark of exact byte-level probabilities with SmolLM2-135M (CPU).

* byte layer's own time (kernels + bookkeeping) vs LM forward time per byte (target <= 20%), exact bytes/second;
* next-byte accuracy on prompts cut mid-word from bundled text: exact byte-level vs token healing vs naive;
* bits per byte of an ensemble (next-byte mixture) against its members;
* a number table under SmolLM2's own pre-tokenizer (digits first) and under GPT-2's split alone (issue 19).

Writes reports/bench/byteprob.json. Usage: python -m bench.byteprob [--quick]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tokbench.byteprob import ByteLM  # noqa: E402
from tokbench.byteprob.commands import complete_healing, complete_naive, ensemble_records  # noqa: E402
from tokbench.byteprob.models import load_model  # noqa: E402
from tokbench.corpus import Corpus, bundled  # noqa: E402
from tokbench.io import atomic_write  # noqa: E402


def _texts(name: str, n: int, min_len: int = 400) -> list[str]:
    out = []
    for doc in Corpus([str(bundled(name))]).documents():
        if len(doc.encode()) >= min_len:
            out.append(doc)
        if len(out) >= n:
            break
    return out


def _transplanted() -> str:
    """SmolLM2 on the GPT-2 tokenizer, built once with `tokbench transplant --method subword-mean` (seconds)."""
    import subprocess

    from tokbench.io import cache_dir

    out = cache_dir("bench") / "smollm2-gpt2"
    if not (out / "config.json").is_file():
        subprocess.run([sys.executable, "-m", "tokbench.cli", "transplant", "-m", "smollm2", "-t", "gpt2", "-o", str(out),
                        "--method", "subword-mean", "--force"], check=True, stdout=subprocess.DEVNULL)
    return str(out)


def timing(blm: ByteLM, text: str, n_bytes: int) -> dict:
    """Walk n_bytes bytes from the root (one LM call per byte) and split wall time into LM forwards and the rest."""
    data = text.encode()[:n_bytes]
    lm = blm.lm
    f0, c0 = lm.forward_s, blm.stats.lm_calls
    t0 = time.perf_counter()
    s = blm.root()
    lp = 0.0
    for b in data:
        lp += float(s.next_byte_logprobs()[b])
        s = s.advance(b)
    s.next_byte_logprobs()
    wall = time.perf_counter() - t0
    fwd = lm.forward_s - f0
    calls = blm.stats.lm_calls - c0
    from tokbench.byteprob.commands import token_logprob

    tlp, _ = token_logprob(blm, data.decode("utf-8", errors="ignore"))
    return {"exact_bits_per_byte": -lp / math.log(2) / len(data), "token_bits_per_byte": -tlp / math.log(2) / len(data),
            "bytes": len(data), "lm_calls": calls, "lm_calls_per_byte": calls / len(data),
            "wall_s": wall, "lm_forward_s": fwd, "byte_layer_s": wall - fwd,
            "lm_forward_ms_per_byte": 1000 * fwd / len(data), "byte_layer_ms_per_byte": 1000 * (wall - fwd) / len(data),
            "byte_layer_over_lm": (wall - fwd) / fwd, "exact_bytes_per_s": len(data) / wall}


def cut_points(text: str, n: int, rng: np.random.Generator, ctx: int) -> list[tuple[bytes, int]]:
    """Prompts of about ctx bytes cut strictly inside an ASCII word (a letter on both sides of the cut)."""
    data = text.encode()
    cands = [i for i in range(ctx, len(data) - 1)
             if chr(data[i - 1]).isalpha() and chr(data[i]).isalpha() and data[i] < 128 and data[i - 1] < 128]
    picks = sorted(rng.choice(cands, size=min(n, len(cands)), replace=False))
    out = []
    for i in picks:
        start = i - ctx
        while start > 0 and 0x80 <= data[start] <= 0xBF:
            start -= 1
        out.append((data[start:i], int(data[i])))
    return out


def accuracy(blm: ByteLM, prompts: list[tuple[bytes, int]]) -> dict:
    hits = {"exact": 0, "healing": 0, "naive": 0}
    for prefix, want in prompts:
        d = blm.state(prefix).next_byte_logprobs()
        hits["exact"] += int(np.argmax(d)) == want
        hits["healing"] += complete_healing(blm, prefix, 1)[:1] == bytes([want])
        hits["naive"] += complete_naive(blm, prefix, 1)[:1] == bytes([want])
    n = len(prompts)
    return {"prompts": n, **{f"{k}_accuracy": v / n for k, v in hits.items()}}


def number_table(tok, lm) -> dict:
    """Issue 19: SmolLM2 was trained on digits split off first (GGUF `smollm`); GPT-2's split alone (what transformers'
    GGUF loader writes) cuts the space run before a digit differently. Exact byte-level numbers under both."""
    from tokenizers import Tokenizer

    from tokbench.tokenizer.hf import HFTokenizer

    spec = json.loads(tok.hf().to_str())
    spec["pre_tokenizer"] = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    gpt2_split = HFTokenizer(Tokenizer.from_str(json.dumps(spec)), "smollm2-gpt2-split")
    gpt2_split.roles = tok.roles
    out = {}
    for name, t in (("smollm_split", tok), ("gpt2_split", gpt2_split)):
        lm.reset()
        blm = ByteLM(t, lm)
        d = blm.state(b"a:  1\nb:  2\nc: ").next_byte_logprobs()
        out[name] = {"p_space_after_a1_b2_c": math.exp(d[32]),
                     "logprob_indented_table": blm.logprob("    1  2  3\n    4  5  6".encode())}
    lm.reset()
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer prompts and bytes")
    ap.add_argument("--out", default=str(ROOT / "reports" / "bench" / "byteprob.json"))
    args = ap.parse_args(argv)
    import torch

    torch.manual_seed(0)
    report: dict = {"model": "smollm2 (SmolLM2-135M-Instruct, GGUF Q4_1 dequantised to fp32)",
                    "torch_threads": torch.get_num_threads()}
    t0 = time.perf_counter()
    tok, lm = load_model("smollm2")
    report["model_load_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    blm = ByteLM(tok, lm)
    report["byte_layer_init_s"] = time.perf_counter() - t0
    docs = _texts("en-tech", 6)
    nb = 96 if args.quick else 192
    out = Path(args.out)
    report["quick"] = bool(args.quick)

    def save(section: str) -> None:
        """Write what is done so far (a run cut short on a busy machine keeps its finished sections)."""
        print(json.dumps(report[section], indent=1), file=sys.stderr)
        report["sections_done"] = report.get("sections_done", []) + [section]
        report["load_average"] = list(__import__("os").getloadavg())
        report["stats"] = {"resyncs": blm.stats.resyncs, "dropped": blm.stats.dropped,
                           "alt_states": blm.stats.alt_states}
        out.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(out) as f:
            json.dump(report, f, indent=1, sort_keys=True)

    report["timing"] = timing(blm, docs[0], nb)
    save("timing")
    report["number_table"] = number_table(tok, lm)
    save("number_table")

    rng = np.random.default_rng(0)
    prompts = []
    for doc in docs[1:]:
        prompts += cut_points(doc, 4 if args.quick else 8, rng, ctx=64)
    report["mid_word_next_byte"] = accuracy(blm, prompts)
    save("mid_word_next_byte")

    # ensemble: SmolLM2 with the same model transplanted onto the GPT-2 tokenizer (subword-mean embeddings, made here
    # in seconds with `tokbench transplant`): two models with different vocabularies mixed at the byte level
    second = _transplanted()
    tok2, lm2 = load_model(second)
    other = ByteLM(tok2, lm2)
    ens_docs = [(f"en-tech#{i}", d) for i, d in enumerate(docs[1:3])]
    nbytes = 48 if args.quick else 96
    report["ensemble_second_model"] = "smollm2 transplanted to the gpt2 tokenizer (subword-mean)"
    recs = ensemble_records([blm, other], ["smollm2", "smollm2-gpt2"], ens_docs, max_bytes=nbytes, weights=[0.7, 0.3])
    report["ensemble"] = {"weights": [0.7, 0.3], "documents": recs,
                          "mean": {k: float(np.mean([r[k] for r in recs])) for k in recs[0] if k.endswith("per_byte")}}
    save("ensemble")
    print(json.dumps(report, indent=1), file=sys.stdout)


if __name__ == "__main__":
    main()
