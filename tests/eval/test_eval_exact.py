"""eval's warm throughput against a separately timed warm encode, and `--allow-special` counting."""

import time

from tokbench.eval.run import Evaluation
from tokbench.tokenizer import load_tokenizer


def test_throughput_is_measured_warm(english_text, tmp_path):
    """The issue's case: in one run, llama3 (heavy first use) and o200k next to gpt2; each figure within 3x of the
    same tokenizer's warm encode timed here on its own. Compared per CPU-second (`throughput_cpu_mb_s`): wall-clock
    figures taken seconds apart on a shared machine differ by the other processes' load (measured on 2 cores at load
    8-10: 0.09x to 4.2x of each other, while the CPU figures stayed within 0.72x-1.11x), and first-use work (compiles,
    tables) is CPU time, so a figure that included it would still be off by far more than 3x."""
    corpus = tmp_path / "en.txt"
    corpus.write_text(english_text * 3, encoding="utf-8")
    names = ["gpt2", "llama3", "o200k_base"]
    records = Evaluation(names, [str(corpus)], roundtrip=False).records
    docs = [corpus.read_text(encoding="utf-8")]
    for name, rec in zip(names, records):
        tok = load_tokenizer(name)
        tok.encode_arrays(docs)  # warm
        started, cpu_started, rounds = time.perf_counter(), time.process_time(), 0
        while rounds < 3 or time.perf_counter() - started < 0.5:
            tok.encode_arrays(docs)
            rounds += 1
        warm = rounds * len(docs[0].encode()) / 1e6 / (time.process_time() - cpu_started)
        assert warm / 3 <= rec["throughput_cpu_mb_s"] <= warm * 3, (name, rec["throughput_cpu_mb_s"], warm)
        # the wall figure comes from the same encodes (one thread here): never faster than the CPU time allows
        assert 0 < rec["throughput_mb_s"] <= rec["throughput_cpu_mb_s"] * 1.05, (name, rec)
        assert rec["first_use_s"] > 0


def test_eval_allow_special_counts_special_tokens(cli, tmp_path):
    corpus = tmp_path / "chat.txt"
    corpus.write_text("<|endoftext|>hello<|endoftext|>", encoding="utf-8")
    (plain,) = Evaluation(["gpt2"], [str(corpus)]).records
    (allowed,) = Evaluation(["gpt2"], [str(corpus)], allow_special=True).records
    assert allowed["tokens"] == 3 < plain["tokens"]
    assert allowed["roundtrip_exact_rate"] == 1.0  # an allowed special token stands for its text
    result = cli("eval", "-t", "gpt2", "-c", str(corpus), "--allow-special", "--format", "json")
    assert result.code == 0 and '"tokens": 3' in result.out
