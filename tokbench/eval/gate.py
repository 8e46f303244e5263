"""Regression gate: compare metric records against a baseline; which way is "worse" comes from the metric registry.

`--tolerance bytes_per_token=1%` allows bytes_per_token (higher is better) to fall by up to 1% of its baseline value;
a metric with lower-is-better fails when it rises by more than its tolerance. Without any --tolerance every metric
with a direction except the throughput figures (timing noise) is gated at 0%.

The gate fails closed: a gated metric it cannot compare (missing, null, not a finite number on either side) is an
InputError naming the record and the metric, never a pass. Under the default gate a metric null on both sides does
not apply to that record (no --model, no parallel text) and is skipped; a metric named with --tolerance must be a
number on both sides. Records pair up on tokenizer and corpus name, and must then agree on the corpus's bytes and,
where both carry one, its content hash: a baseline for another corpus under the same folder name is an error.
"""
from __future__ import annotations

import math

import regex

from tokbench.errors import InputError, UsageError, param
from tokbench.eval.metrics import METRICS

_TOL = regex.compile(r"^\s*([A-Za-z_]+)\s*=\s*([0-9]*\.?[0-9]+)\s*%?\s*$")
NOISY = {"throughput_mb_s", "throughput_cpu_mb_s"}


class Tolerances(dict):
    """metric -> allowed worsening (a fraction); `explicit` when the user named the metrics (each must then be a
    number on both sides), not when it is the default gate over every metric with a direction."""

    def __init__(self, items=(), explicit: bool = True) -> None:
        super().__init__(items)
        self.explicit = explicit


def parse_tolerances(specs: list[str] | None) -> Tolerances:
    """['bytes_per_token=1%', ...] -> {'bytes_per_token': 0.01}; unknown or direction-less metrics are usage errors."""
    if not specs:
        return Tolerances({k: 0.0 for k, m in METRICS.items() if m.better and k not in NOISY}, explicit=False)
    out = Tolerances()
    for spec in specs:
        m = _TOL.match(spec)
        if not m:
            raise UsageError(f"{param('tolerance')} {spec!r}: expected METRIC=X% (e.g. bytes_per_token=1%)")
        key, pct = m.group(1), float(m.group(2))
        if key not in METRICS:
            raise UsageError(f"{param('tolerance')} {spec!r}: unknown metric {key!r} (known: {', '.join(METRICS)})")
        if METRICS[key].better is None:
            raise UsageError(f"{param('tolerance')} {spec!r}: {key} describes the corpus, it has no better direction")
        out[key] = pct / 100.0
    return out


def load_records(path) -> list[dict]:
    """Records written by `tokbench eval`: --format json (a list), --format jsonl (one per line), or an `-o DIR`
    report folder (metrics.json); "-" reads stdin."""
    import json
    from pathlib import Path

    from tokbench.io import read_text

    p = Path(path)
    if str(path) != "-" and p.is_dir():
        p = p / "metrics.json"
    where = "stdin" if str(path) == "-" else str(p)
    text = read_text("-" if str(path) == "-" else p)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg != "Extra data":
            raise InputError(f"{where}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
        data = []
        for lineno, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                data.append(json.loads(line))
            except json.JSONDecodeError as line_exc:
                raise InputError(f"{where}:{lineno}: invalid JSON line: {line_exc.msg}") from None
    if isinstance(data, dict) and isinstance(data.get("records"), list):
        data = data["records"]
    if isinstance(data, dict) and "tokenizer" in data:  # a single jsonl line
        data = [data]
    if not isinstance(data, list) or not all(isinstance(r, dict) and "tokenizer" in r and "corpus" in r
                                             for r in data):
        raise InputError(f"{where}: not a list of tokbench eval records (each needs 'tokenizer' and 'corpus')")
    if not data:
        raise InputError(f"{where}: holds no records")
    return data


def _key(r: dict) -> tuple[str, str]:
    return str(r["tokenizer"]), str(r["corpus"])


def _same_corpus(b: dict, r: dict, baseline_name: str) -> None:
    """A pair must have measured the same text: equal byte counts, and equal content hashes where both have one."""
    t, c = _key(r)
    ob, nb = b.get("bytes"), r.get("bytes")
    if not _num(ob) or not _num(nb):
        side, value = ("baseline", ob) if not _num(ob) else ("this run", nb)
        raise InputError(f"{baseline_name}: tokenizer {t!r} on corpus {c!r}: cannot tell whether it is the same "
                         f"corpus: {side} has bytes={_fmt(value)}")
    if ob != nb:
        raise InputError(f"{baseline_name}: tokenizer {t!r} on corpus {c!r}: the baseline measured {_fmt(ob)} bytes, "
                         f"this run {_fmt(nb)}: not the same corpus")
    oh, nh = b.get(HASH_KEY), r.get(HASH_KEY)
    if oh is not None and nh is not None and oh != nh:
        raise InputError(f"{baseline_name}: tokenizer {t!r} on corpus {c!r}: the corpus content differs "
                         f"({HASH_KEY} {oh} in the baseline, {nh} now): not the same corpus")


def diff(old: list[dict], new: list[dict], tolerances: dict[str, float] | None = None,
         baseline_name: str = "baseline", check: bool = True) -> list[dict]:
    """One row per (tokenizer, corpus, metric) whose value changed, with `regressed` set where it moved the wrong way
    beyond its tolerance (only metrics named in `tolerances` can regress). Every (tokenizer, corpus) of `new` must be
    in `old` with the same corpus, and every gated metric must be comparable, else InputError (a baseline for other
    tokenizers or corpora, or a metric the gate cannot read, is a mistake, not a pass). `check=False` leaves the
    gated metrics to `uncomparable()`, for a caller that writes its reports before failing."""
    base = {_key(r): r for r in old}
    missing = [k for k in map(_key, new) if k not in base]
    if missing:
        have_t = sorted({k[0] for k in base})
        have_c = sorted({k[1] for k in base})
        t, c = missing[0]
        raise InputError(f"{baseline_name}: no baseline for tokenizer {t!r} on corpus {c!r} "
                         f"(baseline has tokenizers {', '.join(have_t)}; corpora {', '.join(have_c)})")
    tolerances = tolerances or {}
    strict = getattr(tolerances, "explicit", True)
    for r in new:
        _same_corpus(base[_key(r)], r, baseline_name)
    if check:
        fail_uncomparable(uncomparable(old, new, tolerances))
    rows = []
    for r in new:
        b = base[_key(r)]
        for key, m in METRICS.items():
            ov, nv = b.get(key), r.get(key)
            if ov == nv or not _num(ov) or not _num(nv):
                if ov != nv and (ov is None) != (nv is None):
                    rows.append(_row(r, key, ov, nv, None, False, key in tolerances, tolerances.get(key)))
                continue
            change = (nv - ov) / abs(ov) if ov != 0 else math.copysign(math.inf, nv - ov)
            worse = (m.better == "higher" and change < 0) or (m.better == "lower" and change > 0)
            tol = tolerances.get(key)
            regressed = tol is not None and worse and abs(change) > tol + 1e-12
            rows.append(_row(r, key, ov, nv, change, regressed, worse, tol))
    return rows


def uncomparable(old: list[dict], new: list[dict], tolerances: dict[str, float]) -> list[str]:
    """Every gated (record, metric) the gate cannot compare, as "METRIC for tokenizer T on corpus C: why"."""
    base = {_key(r): r for r in old}
    strict = getattr(tolerances, "explicit", True)
    found = [_uncomparable(base[_key(r)], r, key, strict) for r in new if _key(r) in base for key in tolerances]
    return [f for f in found if f]


def fail_uncomparable(problems: list[str]) -> None:
    """The fail-closed rule: a gated metric that could not be compared is an InputError (exit 1), never a pass."""
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise InputError(f"gate: cannot compare {problems[0]}{more}")


def _uncomparable(b: dict, r: dict, key: str, strict: bool) -> str | None:
    """Why gated metric `key` cannot be compared between baseline record `b` and new record `r`, or None."""
    ov, nv = b.get(key, _MISSING), r.get(key, _MISSING)
    if _num(ov) and _num(nv):
        return None
    if not strict and ov is None and nv is None:  # the default gate: does not apply to this record on either side
        return None
    side, value = ("the baseline", ov) if not _num(ov) else ("this run", nv)
    what = "has no such field" if value is _MISSING else f"has {_fmt(value)}, not a number"
    return f"{key} for tokenizer {r['tokenizer']!r} on corpus {r['corpus']!r}: {side} {what}"


_MISSING = object()
HASH_KEY = "corpus_hash"


def _num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _row(r, key, ov, nv, change, regressed, worse, tol) -> dict:
    return {"tokenizer": r["tokenizer"], "corpus": r["corpus"], "metric": key, "old": ov, "new": nv,
            "change_pct": None if change is None else 100.0 * change, "better": METRICS[key].better,
            "tolerance_pct": None if tol is None else 100.0 * tol, "worse": bool(worse), "regressed": bool(regressed)}


def regressions(rows: list[dict]) -> list[dict]:
    return [r for r in rows if r["regressed"]]


def describe(row: dict) -> str:
    """One line per regressed metric: what, old -> new, by how much, against which tolerance."""
    ch = "" if row["change_pct"] is None else f" ({row['change_pct']:+.3g}%"
    tol = "" if row["tolerance_pct"] is None else f", tolerance {row['tolerance_pct']:.3g}%"
    tail = f"{ch}{tol}, {row['better']} is better)" if ch else ""
    return f"{row['tokenizer']} on {row['corpus']}: {row['metric']} {_fmt(row['old'])} -> {_fmt(row['new'])}{tail}"


def _fmt(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, str):
        return repr(v)
    return f"{v:.6g}" if isinstance(v, float) else str(v)


def improvements(rows: list[dict]) -> list[dict]:
    """Rows that moved the better way by more than their tolerance (by more than 0 where none is set)."""
    return [r for r in rows if r["better"] and r["change_pct"] is not None and not r["worse"] and r["change_pct"] != 0
            and abs(r["change_pct"]) > (r["tolerance_pct"] or 0.0) + 1e-9]


# ---------------------------------------------------------------------------------------------- CI-native outputs
def junit(new: list[dict], rows: list[dict], tolerances: dict[str, float], suite: str = "tokbench.gate") -> str:
    """JUnit XML that GitLab, Jenkins and GitHub test reporters show as is: one test case per tokenizer x corpus x gated
    metric (classname "TOKENIZER on CORPUS", name the metric); a regression is a <failure> naming the old and new
    values, a metric that is null now is <skipped> (nothing to compare), everything else passes."""
    import xml.etree.ElementTree as ET

    by = {(r["tokenizer"], r["corpus"], r["metric"]): r for r in rows}
    cases, failures, skipped = [], 0, 0
    for rec in new:
        for key in [k for k in METRICS if k in tolerances]:
            case = ET.Element("testcase", classname=f"{rec['tokenizer']} on {rec['corpus']}", name=key, time="0")
            row = by.get((rec["tokenizer"], rec["corpus"], key))
            if row is not None and row["regressed"]:
                failures += 1
                fail = ET.SubElement(case, "failure", message=describe(row), type="regression")
                fail.text = (f"{key}: baseline {_fmt(row['old'])}, now {_fmt(row['new'])}, change "
                             f"{row['change_pct']:+.4g}% ({row['better']} is better, tolerance "
                             f"{row['tolerance_pct']:.3g}%)")
            elif rec.get(key) is None:
                skipped += 1
                was = "" if row is None else f" (baseline {_fmt(row['old'])})"
                ET.SubElement(case, "skipped", message=f"{key} is null: does not apply{was}")
            cases.append(case)
    root = ET.Element("testsuites", name=suite, tests=str(len(cases)), failures=str(failures), errors="0",
                      skipped=str(skipped))
    ts = ET.SubElement(root, "testsuite", name=suite, tests=str(len(cases)), failures=str(failures), errors="0",
                       skipped=str(skipped), time="0")
    ts.extend(cases)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def markdown(rows: list[dict], checks: int | None = None, full: str | None = None,
             full_title: str = "every changed value") -> str:
    """A job summary or pull-request comment: a verdict line, a short table of what moved beyond tolerance
    (regressions, then improvements), then the full table folded in <details> (`full`, Markdown; default: every
    changed value)."""
    from tokbench.io import format_records

    bad, good = regressions(rows), improvements(rows)
    n = f" of {checks} gated checks" if checks is not None else ""
    verdict = "FAILED" if bad else "passed"
    lines = [f"### tokbench gate {verdict}: {len(bad)} regressed, {len(good)} improved beyond tolerance{n}", ""]
    if bad or good:
        lines += ["| | tokenizer | corpus | metric | baseline | now | change | tolerance |",
                  "|---|---|---|---|---|---|---|---|"]
        for mark, rs in (("regressed", bad), ("improved", good)):
            for r in rs:
                tol = "" if r["tolerance_pct"] is None else f"{r['tolerance_pct']:.3g}%"
                lines.append(f"| **{mark}** | {r['tokenizer']} | {r['corpus']} | {r['metric']} | {_fmt(r['old'])} | "
                             f"{_fmt(r['new'])} | {r['change_pct']:+.3g}% | {tol} |")
        lines.append("")
    else:
        lines += ["Nothing moved beyond its tolerance.", ""]
    if full is None:
        shown = [{k: r[k] for k in ("tokenizer", "corpus", "metric", "old", "new", "change_pct", "better",
                                    "tolerance_pct", "regressed")} for r in rows]
        full = format_records(shown, "md") if shown else "No value changed.\n"
    lines += [f"<details><summary>{full_title}</summary>", "", full.rstrip("\n"), "", "</details>", ""]
    return "\n".join(lines)
