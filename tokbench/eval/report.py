"""Presenting eval records: a rich table for people, json/csv/md for machines, and a report folder with plots.

`-o DIR` writes metrics.json, metrics.csv, metrics.md (plus budget.* when asked) and a self-contained index.html whose
matplotlib plots are embedded as base64 PNG: bytes/token per tokenizer x corpus, premium per language, token-length
histogram, %TR/%Pure bars.
"""
from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np

from tokbench.io import atomic_dir, format_records

# (record key, column title, format) for the human table; the full record goes to json/csv/md.
TABLE = [
    ("tokenizer", "tokenizer", "s"), ("corpus", "corpus", "s"), ("lang", "lang", "s"), ("tokens", "tokens", "d"),
    ("bytes_per_token", "bytes/tok", ".3f"), ("tokens_per_kb", "tok/kB", ".1f"), ("fertility", "fertility", ".3f"),
    ("continued_words", "PCW", ".3f"), ("renyi_efficiency", "Rényi", ".3f"),
    ("tr_percent_unique", "%TR u", ".1f"), ("tr_percent_weighted", "%TR w", ".1f"),
    ("pure_percent_unique", "%Pure u", ".1f"), ("pure_percent_weighted", "%Pure w", ".1f"),
    ("morph_f1", "morph F1", ".3f"), ("premium", "premium", ".3f"), ("throughput_mb_s", "MB/s", ".2f"),
]


def _cell(v, fmt: str) -> str:
    if v is None:
        return "–"
    if fmt == "s":
        return str(v)
    return format(v, fmt)


def short_name(name: str) -> str:
    """Path-like tokenizer names shortened for tables and plot labels."""
    p = Path(name)
    if len(p.parts) > 1 and p.name in ("tokenizer.json", "tokenizer.model"):
        return p.parent.name if p.parent.name not in ("models", "") else p.parent.parent.parent.name or name
    return p.name if len(p.parts) > 1 else name


def rich_table(records: list[dict], title: str = "tokbench eval"):
    from rich.table import Table

    cols = [(k, t, f) for k, t, f in TABLE if any(r.get(k) is not None for r in records)]
    table = Table(title=title)
    for k, t, f in cols:
        table.add_column(t, justify="left" if f == "s" else "right")
    for r in records:
        table.add_row(*[_cell(short_name(r[k]) if k == "tokenizer" else r.get(k), f) for k, t, f in cols])
    return table


def rows_table(rows: list[dict], title: str):
    """A plain rich table of arbitrary rows (budget, diff)."""
    from rich.table import Table

    table = Table(title=title)
    if not rows:
        return table
    keys = list(rows[0])
    for k in keys:
        table.add_column(k)
    for r in rows:
        table.add_row(*[_cell(short_name(r[k]) if k == "tokenizer" else r.get(k),
                              ".4g" if isinstance(r.get(k), float) else "s") for k in keys])
    return table


def print_table(table, to_stdout: bool = False) -> None:
    """Human output goes to stderr (stdout stays clean for machine formats), or stdout when asked."""
    from rich.console import Console

    console = Console(stderr=not to_stdout)
    if not console.is_terminal:  # a log or a pipe: do not squeeze the columns into 80 characters
        console = Console(stderr=not to_stdout, width=220)
    console.print(table)


# ----------------------------------------------------------------------------------------------------- plots
def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96, bbox_inches="tight", metadata={"Software": None})
    import matplotlib.pyplot as plt

    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def plots(records: list[dict], length_hist: dict | None = None) -> list[tuple[str, str]]:
    """(title, base64 PNG) for every plot the data supports."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    df = pd.DataFrame.from_records(records)
    df["tok"] = df["tokenizer"].map(short_name)
    out = []

    pv = df.pivot_table(index="corpus", columns="tok", values="bytes_per_token", aggfunc="first")
    if not pv.empty:
        fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(pv) * max(1, len(pv.columns)) / 2), 4))
        pv.plot.bar(ax=ax, rot=30)
        ax.set_ylabel("UTF-8 bytes per token")
        ax.set_title("bytes/token per tokenizer x corpus (higher = fewer tokens)")
        out.append(("bytes/token", _png(fig)))

    pr = df[df["premium"].notna()]
    if not pr.empty:
        pv = pr.pivot_table(index="lang", columns="tok", values="premium", aggfunc="first")
        fig, ax = plt.subplots(figsize=(6, 4))
        pv.plot.bar(ax=ax, rot=0)
        ax.axhline(1.0, color="grey", lw=0.8, ls="--")
        ax.set_ylabel("tokens / tokens of the reference language")
        ax.set_title("tokenization premium per language")
        out.append(("premium", _png(fig)))

    if length_hist:
        fig, ax = plt.subplots(figsize=(7, 4))
        by_tok: dict[str, np.ndarray] = {}
        for (tok, _corpus), h in length_hist.items():
            acc = by_tok.get(tok, np.zeros(0, np.int64))
            n = max(len(acc), len(h))
            by_tok[tok] = np.pad(acc, (0, n - len(acc))) + np.pad(h, (0, n - len(h)))
        for tok, h in by_tok.items():
            if h.sum() == 0:
                continue
            h = h[: 33] / h.sum()
            ax.step(np.arange(len(h)), h, where="mid", label=short_name(tok))
        ax.set_xlabel("token length (bytes)")
        ax.set_ylabel("share of tokens")
        ax.set_title("token-length histogram (all corpora)")
        ax.legend(fontsize=8)
        out.append(("token lengths", _png(fig)))

    tr = df[df["tr_percent_unique"].notna()]
    if not tr.empty:
        cols = ["tr_percent_unique", "tr_percent_weighted", "pure_percent_unique", "pure_percent_weighted"]
        t = tr.set_index(tr["tok"] + " / " + tr["corpus"])[cols]
        fig, ax = plt.subplots(figsize=(max(6, 1.0 * len(t)), 4))
        t.plot.bar(ax=ax, rot=30)
        ax.set_ylabel("% of tokens")
        ax.set_title("%TR (valid words) and %Pure (roots/suffixes): unique and frequency-weighted")
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        out.append(("%TR / %Pure", _png(fig)))
    return out


def html_report(records: list[dict], length_hist=None, budget: list[dict] | None = None) -> str:
    import pandas as pd

    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>tokbench eval</title>",
             "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;font-size:12px}"
             "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}img{max-width:100%}</style></head><body>",
             "<h1>tokbench eval</h1>"]
    for title, png in plots(records, length_hist):
        parts.append(f"<h2>{html.escape(title)}</h2><img alt='{html.escape(title)}' src='data:image/png;base64,{png}'>")
    parts.append("<h2>metrics</h2>")
    parts.append(pd.DataFrame.from_records(records).to_html(index=False, na_rep="–", float_format=lambda x: f"{x:.4g}"))
    if budget:
        parts.append("<h2>byte budget</h2>")
        parts.append(pd.DataFrame.from_records(budget).to_html(index=False, na_rep="–"))
    parts.append("<p>Metric definitions: tokbench/eval/metrics.py (null = does not apply).</p></body></html>\n")
    return "\n".join(parts)


def write_report(out_dir: str | Path, records: list[dict], length_hist=None, budget: list[dict] | None = None,
                 force: bool = False) -> Path:
    """Write the report folder atomically (it appears complete or not at all)."""
    with atomic_dir(out_dir, force=force) as tmp:
        for fmt, ext in (("json", "json"), ("csv", "csv"), ("md", "md")):
            (tmp / f"metrics.{ext}").write_text(format_records(records, fmt), encoding="utf-8")
            if budget:
                (tmp / f"budget.{ext}").write_text(format_records(budget, fmt), encoding="utf-8")
        (tmp / "index.html").write_text(html_report(records, length_hist, budget), encoding="utf-8")
    return Path(out_dir)
