"""Class 5, every size-like flag: a nonsensical number (0, negative, NaN, inf, out of range) is refused while the
command line is parsed, before any work: exit 2, one `tokbench: ...` line naming the flag, nothing written.

Each case is a command line that would otherwise run (and write its output), with one bad value added last.
`test_every_number_flag_has_a_case` keeps the table complete: a new int or float flag must be bounded and tested.
"""

from __future__ import annotations

import pytest

from tests.reliability.conftest import leftovers

BASE = {
    "tokenize": ["tokenize", "-t", "gpt2", "{c}"],
    "train": ["train", "{c}", "--vocab-size", "300", "-o", "{o}"],
    "count": ["count", "{c}", "-o", "{o}"],
    "sweep": ["sweep", "{c}", "--eval", "{c}", "--transition", "0.6", "--vocab-size", "400", "-o", "{o}"],
    "eval": ["eval", "-t", "gpt2", "-c", "{c}", "-o", "{o}"],
    "transplant": ["transplant", "-m", "smollm2", "-t", "gpt2", "--method", "mean", "-o", "{o}"],
    "hypernet train": ["hypernet", "train", "-m", "smollm2", "-c", "{c}", "-o", "{o}", "--steps", "2"],
    "lm bpb": ["lm", "bpb", "-m", "smollm2", "-c", "{c}"],
    "bytes next": ["bytes", "next", "-m", "smollm2", "--prefix", "Hello"],
    "bytes bpb": ["bytes", "bpb", "-m", "smollm2", "--corpus", "{c}"],
    "bytes complete": ["bytes", "complete", "-m", "smollm2", "--prefix", "Hel"],
    "bytes ensemble": ["bytes", "ensemble", "-m", "smollm2", "-m", "random:gpt2", "--corpus", "{c}"],
}

# (command, extra flags making the bad flag apply, the flag, a bad value)
CASES = [
    ("tokenize", [], "--threads", "0"),
    ("train", [], "--vocab-size", "0"),
    ("train", [], "--vocab-size", "-5"),
    ("train", [], "--min-frequency", "-1"),
    ("train", [], "--min-word-count", "0"),
    ("train", [], "--threads", "-2"),
    ("train", ["--workers", "2"], "--scheduler-timeout", "0"),
    ("train", ["--workers", "2"], "--scheduler-timeout", "nan"),
    ("train", ["--workers", "2"], "--shard-size", "0"),
    ("train", [], "--workers", "0"),
    ("train", ["--algo", "superbpe"], "--transition", "0"),
    ("train", ["--algo", "superbpe"], "--transition", "nan"),
    ("train", ["--algo", "superbpe"], "--transition", "-0.5"),
    ("train", ["--algo", "superbpe"], "--max-words", "0"),
    ("train", ["--algo", "supertoken"], "--chunk-min", "0"),
    ("train", ["--algo", "supertoken"], "--chunk-max", "-1"),
    ("train", ["--algo", "supertoken"], "--seed", "-1"),
    ("train", ["--algo", "char-bpe"], "--max-token-chars", "0"),
    ("count", [], "--partitions", "0"),
    ("count", [], "--min-word-count", "-3"),
    ("count", [], "--threads", "0"),
    ("count", ["--workers", "2"], "--scheduler-timeout", "-1"),
    ("count", ["--workers", "2"], "--shard-size", "0k"),
    ("sweep", [], "--vocab-size", "0"),
    ("sweep", [], "--max-words", "0"),
    ("sweep", [], "--transition", "0.4,nan"),
    ("sweep", [], "--transition", "0.4,-1"),
    ("eval", [], "--budget", "0"),
    ("eval", [], "--max-bytes", "0"),
    ("eval", [], "--exact-bytes", "-1"),
    ("eval", ["--workers", "2"], "--scheduler-timeout", "inf"),
    ("transplant", [], "--pad-to-multiple-of", "0"),
    ("transplant", ["--method", "tokenadapt"], "--temperature", "0"),
    ("transplant", ["--method", "tokenadapt"], "--temperature", "nan"),
    ("transplant", ["--method", "tokenadapt"], "--top-k", "0"),
    ("transplant", ["--method", "omp"], "--k", "0"),
    ("transplant", ["--method", "omp"], "--shrink", "0"),
    ("transplant", ["--method", "omp"], "--shrink", "nan"),
    ("transplant", ["--method", "tokenadapt"], "--weight", "1.5"),
    ("transplant", ["--method", "tokenadapt"], "--weight", "-0.1"),
    ("transplant", ["--method", "tokenadapt"], "--threshold", "nan"),
    ("transplant", ["--method", "tokenadapt"], "--threshold", "2"),
    ("transplant", [], "--seed", "-1"),
    ("transplant", ["--heal-corpus", "{c}"], "--heal-steps", "-1"),
    ("transplant", ["--heal-corpus", "{c}", "--heal-steps", "2"], "--heal-lr", "0"),
    ("transplant", ["--heal-corpus", "{c}", "--heal-steps", "2"], "--heal-batch-size", "0"),
    ("transplant", ["--heal-corpus", "{c}", "--heal-steps", "2"], "--heal-seq-len", "1"),
    ("transplant", ["--heal-corpus", "{c}", "--heal-steps", "2"], "--heal-max-bytes", "0"),
    ("transplant", ["--evaluate", "{c}"], "--context", "1"),
    ("transplant", ["--evaluate", "{c}"], "--max-bytes", "0"),
    ("hypernet train", [], "--steps", "0"),
    ("hypernet train", [], "--batch-size", "0"),
    ("hypernet train", [], "--seq-len", "1"),
    ("hypernet train", [], "--lr", "-0.001"),
    ("hypernet train", [], "--layers", "-1"),
    ("hypernet train", [], "--width", "4"),
    ("hypernet train", [], "--max-pieces", "0"),
    ("hypernet train", [], "--warmup-steps", "-1"),
    ("hypernet train", [], "--vocab-min", "0"),
    ("hypernet train", [], "--vocab-max", "-8"),
    ("hypernet train", [], "--save-every", "0"),
    ("hypernet train", [], "--time-limit", "-1"),
    ("hypernet train", [], "--time-limit", "inf"),
    ("hypernet train", [], "--seed", "-1"),
    ("lm bpb", [], "--context", "0"),
    ("lm bpb", [], "--stride", "0"),
    ("lm bpb", [], "--batch-size", "0"),
    ("lm bpb", [], "--max-bytes", "-1"),
    ("bytes next", [], "--top", "0"),
    ("bytes bpb", [], "--max-bytes", "0"),
    ("bytes bpb", [], "--docs", "0"),
    ("bytes complete", [], "--max-bytes", "0"),
    ("bytes complete", [], "--seed", "-1"),
    ("bytes ensemble", [], "--max-bytes", "0"),
    ("bytes ensemble", [], "--docs", "-1"),
]


@pytest.mark.parametrize("command,extra,flag,bad", CASES,
                         ids=[f"{c}-{f}={b}" for c, _, f, b in CASES])
def test_nonsensical_number_is_refused_up_front(tb, tmp_path, corpus, command, extra, flag, bad):
    out = tmp_path / "out"
    subs = {"{c}": str(corpus), "{o}": str(out)}
    args = [subs.get(a, a) for a in [*BASE[command], *extra]]
    r = tb(*args, f"{flag}={bad}", timeout=120)
    assert r.code == 2, (r.code, r.err)
    r.one_line(flag)
    assert r.out == ""
    assert not out.exists() and leftovers(tmp_path) == []


def _number_flags() -> set[tuple[str, str]]:
    """(command, --flag) for every int or float option of every tokbench command, and whether each is bounded."""
    import typer

    from tokbench.cli import app

    def walk(cmd, path):
        for name, sub in getattr(cmd, "commands", {}).items():
            yield from walk(sub, [*path, name])
        if not getattr(cmd, "commands", None):
            yield " ".join(path), cmd

    found = set()
    for command, cmd in walk(typer.main.get_command(app), []):
        for p in cmd.params:
            if p.type_descriptor.annotation in (int, float):
                flag = next(o for o in p.opts if o.startswith("--"))
                assert p.callback is not None, f"{command} {flag} is not bounded (tokbench.options.at_least/above)"
                found.add((command, flag))
    return found


def test_every_number_flag_has_a_case():
    covered = {(command, flag) for command, _, flag, _ in CASES}
    missing = _number_flags() - covered
    assert not missing, f"number flags without a bounds case: {sorted(missing)}"
