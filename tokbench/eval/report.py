"""Presenting eval records: a rich table for people, json/csv/md for machines, and a report folder people read.

`-o DIR` writes metrics.json, metrics.csv, metrics.md (plus budget.* when asked) and index.html: one self-contained file
(styles, script and 2x PNG figures inline; nothing fetched) that a person reads in a minute. On top, per corpus, which
tokenizer compresses best and by how much (and, against a baseline, what regressed or improved); then heatmaps
(tokenizer x corpus, values in the cells, coloured within each corpus so its winner shows) for bytes/token, fertility
and premium, %TR/%Pure per language, token-length histograms, the vocabulary-utilisation curve and bytes/token against
vocabulary size; last the full table, grouped by corpus, sortable by any column, with the metric registry's
descriptions on hover. Every figure is sized for a laptop screen: at most 2.9x as wide as high, at least 260 px high.
"""
from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import regex

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


# ---------------------------------------------------------------------------------------------------- figures
PX_PER_INCH = 100  # a w x h inch figure shows as (100 w) x (100 h) CSS px
DPI = 2 * PX_PER_INCH  # PNG at 2x: sharp text on high-density screens
MAX_WIDTH_IN = 12.8  # fits a 1400 px window with the page margins
MIN_HEIGHT_IN = 2.6
MAX_ASPECT = 2.9
GREY = "#e9e9e9"
STYLE = {"font.size": 10, "axes.titlesize": 12, "axes.titleweight": "bold", "axes.labelsize": 10,
         "xtick.labelsize": 9.5, "ytick.labelsize": 9.5, "legend.fontsize": 9, "axes.spines.top": False,
         "axes.spines.right": False}


@dataclass
class Figure:
    title: str
    caption: str
    png: str  # base64
    width: int  # CSS px
    height: int


def _size(w: float, h: float) -> tuple[float, float]:
    """Clamp a figure size (inches) to the page: not wider than the window, not flatter than MAX_ASPECT."""
    w = min(w, MAX_WIDTH_IN)
    return w, max(h, MIN_HEIGHT_IN, w / MAX_ASPECT)


def _figure(fig, title: str, caption: str) -> Figure:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    w, h = fig.get_size_inches()
    plt.close(fig)
    return Figure(title, caption, base64.b64encode(buf.getvalue()).decode("ascii"),
                  round(w * PX_PER_INCH), round(h * PX_PER_INCH))


def _text_width(labels) -> float:
    """Inches a column of tick labels needs at 9.5 pt (about 0.075 in per character)."""
    return 0.075 * max((len(str(x)) for x in labels), default=0)


def heatmap(frame, title: str, caption: str, fmt: str = ".2f", better: str | None = "higher", along: str = "row",
            sub=None) -> Figure | None:
    """A labelled heatmap of `frame` (rows x columns, NaN = does not apply, printed "n/a"). Colours rank values
    within each row (or column): green is the best there, red the worst, so each corpus shows its own winner
    whatever its scale. `sub` (same shape, strings) adds a smaller second line to the cells."""
    import matplotlib.pyplot as plt

    vals = frame.to_numpy(dtype=float)
    if vals.size == 0 or np.isnan(vals).all():
        return None
    nr, nc = vals.shape
    score = np.full_like(vals, np.nan)
    lines = vals if along == "row" else vals.T
    target = score if along == "row" else score.T
    for i, v in enumerate(lines):
        ok = ~np.isnan(v)
        if ok.any():
            lo, hi = v[ok].min(), v[ok].max()
            target[i, ok] = 0.5 if hi == lo else (v[ok] - lo) / (hi - lo)
    if better == "lower":
        score = 1.0 - score
    cell_w, cell_h = (0.95, 0.58) if sub is not None else (0.9, 0.42)
    w = 0.9 + _text_width(frame.index) + cell_w * nc
    h = 1.2 + _text_width(frame.columns) * 0.6 + cell_h * nr
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=_size(w, h), layout="constrained")
        cmap = plt.get_cmap("RdYlGn" if better else "Greys").with_extremes(bad=GREY)
        shown = np.ma.masked_invalid(score if better else np.where(np.isnan(vals), np.nan, 0.15))
        ax.imshow(shown, cmap=cmap, vmin=-0.2, vmax=1.2, aspect="auto", interpolation="nearest")
        size = 9.5 if nc <= 10 else 8.5
        for i in range(nr):
            for j in range(nc):
                v = vals[i, j]
                text = "n/a" if np.isnan(v) else format(v, fmt)
                if sub is not None and not np.isnan(v) and sub.iat[i, j]:
                    text += "\n" + sub.iat[i, j]
                ax.text(j, i, text, ha="center", va="center", fontsize=size if "\n" not in text else size - 1,
                        color="#777" if np.isnan(v) else "#111")
        ax.set_xticks(range(nc), labels=[str(c) for c in frame.columns], rotation=30 if nc > 3 else 0,
                      ha="right" if nc > 3 else "center", rotation_mode="anchor")
        ax.set_yticks(range(nr), labels=[str(r) for r in frame.index])
        ax.tick_params(length=0)
        for side in ax.spines.values():
            side.set_visible(False)
        ax.set_title(title, loc="left")
    return _figure(fig, title, caption)


def _frame(records: list[dict]):
    import pandas as pd

    df = pd.DataFrame.from_records(records)
    df["tok"] = df["tokenizer"].map(short_name)
    return df


def _pivot(df, value: str, numeric: bool = True):
    """corpus x tokenizer table of one column, both in the order the records came."""
    pv = df.pivot_table(index="corpus", columns="tok", values=value, aggfunc="first", dropna=False)
    pv = pv.reindex(index=list(dict.fromkeys(df["corpus"])), columns=list(dict.fromkeys(df["tok"])))
    return pv.astype(float) if numeric else pv.fillna("")


def _heatmaps(df) -> list[Figure]:
    import pandas as pd

    out = []
    if "bytes_per_token" in df and df["bytes_per_token"].notna().any():
        out.append(heatmap(_pivot(df, "bytes_per_token"), "UTF-8 bytes per token",
                           "Higher is better (fewer tokens for the same text). Colour: within each corpus, green = "
                           "best, red = worst.", ".2f", "higher"))
    if "fertility" in df and df["fertility"].notna().any():
        sub = df[df["fertility"].notna()]
        out.append(heatmap(_pivot(sub, "fertility"), "fertility (tokens per word)",
                           "Lower is better. Words: Unicode letter/digit runs.", ".2f", "lower"))
    if "premium" in df and df["premium"].notna().any():
        sub = df[df["premium"].notna()].copy()
        spread = None
        if "premium_min" in sub and sub["premium_min"].notna().any():
            sub["spread"] = [f"{a:.2f}–{b:.2f}" if pd.notna(a) and pd.notna(b) else ""
                             for a, b in zip(sub["premium_min"], sub["premium_max"])]
            spread = _pivot(sub, "spread", numeric=False)
        out.append(heatmap(_pivot(sub, "premium"), "tokenization premium",
                           "Tokens for the text / tokens for the same text in the reference language (lower is "
                           "better; 1 = parity). Second line: lowest–highest over single parallel documents "
                           "(FLORES: sentences).", ".2f", "lower", sub=spread))
    return [f for f in out if f is not None]


LEX_COLS = {"tr_percent_unique": "%TR u", "tr_percent_weighted": "%TR w",
            "pure_percent_unique": "%Pure u", "pure_percent_weighted": "%Pure w"}


def _lexicon_charts(df) -> list[Figure]:
    """%TR/%Pure: one small heatmap per language that has them (rows: tokenizers; columns: each measure that
    applies, per corpus of that language)."""
    import pandas as pd

    if "tr_percent_unique" not in df:
        return []
    out = []
    caption = ("Share of tokens that are valid words (%TR) or pure morphemes, roots or suffixes (%Pure); u = each "
               "distinct token once, w = by frequency. Higher is better; colour within each column.")
    lex = df[df["tr_percent_unique"].notna()]
    for lang, part in lex.groupby(lex["lang"].fillna("?"), sort=False):
        several = part["corpus"].nunique() > 1
        cols = {}
        for corpus, rows in part.groupby("corpus", sort=False):
            for key, label in LEX_COLS.items():
                if rows[key].notna().any():
                    cols[f"{corpus} {label}" if several else label] = rows.set_index("tok")[key]
        frame = pd.DataFrame(cols).reindex(list(dict.fromkeys(part["tok"]))).astype(float)
        fig = heatmap(frame, f"%TR and %Pure: {lang}", caption if not out else "", ".1f", "higher", along="col")
        if fig is not None:
            out.append(fig)
    return out


def _length_histograms(length_hist: dict | None) -> Figure | None:
    """Small multiples: one bar histogram of token lengths (bytes, all corpora) per tokenizer."""
    import matplotlib.pyplot as plt

    if not length_hist:
        return None
    by_tok: dict[str, np.ndarray] = {}
    for (tok, _corpus), h in length_hist.items():
        acc = by_tok.get(tok, np.zeros(0, np.int64))
        n = max(len(acc), len(h))
        by_tok[tok] = np.pad(acc, (0, n - len(acc))) + np.pad(h, (0, n - len(h)))
    by_tok = {t: h for t, h in by_tok.items() if h.sum() > 0}
    if not by_tok:
        return None
    top = 16  # lengths above are folded into the last bar
    ncols = min(3, len(by_tok))
    nrows = -(-len(by_tok) // ncols)
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(nrows, ncols, figsize=_size(3.9 * ncols + 0.5, 2.1 * nrows + 0.9), sharex=True,
                                 sharey=True, squeeze=False, layout="constrained")
        for ax, (tok, h) in zip(axes.flat, by_tok.items()):
            share = np.zeros(top + 1)
            share[: min(len(h), top + 1)] = h[: top + 1]
            share[top] += h[top + 1:].sum()
            share = share / h.sum()
            mean = (np.arange(len(h)) * h).sum() / h.sum()
            ax.bar(np.arange(1, top + 1), 100 * share[1:], color="#4c78a8", width=0.85)
            ax.set_title(f"{short_name(tok)}  (mean {mean:.2f} B)", loc="left", fontsize=10)
            ax.grid(axis="y", color="#ddd", lw=0.6)
        for ax in axes.flat[len(by_tok):]:
            ax.set_visible(False)
        for ax in axes[-1]:
            ax.set_xlabel("token length (bytes; last bar: 16+)")
        for ax in axes[:, 0]:
            ax.set_ylabel("% of tokens")
        fig.suptitle("token-length histogram (all corpora)", x=0.01, ha="left", fontweight="bold")
    return _figure(fig, "token lengths", "Share of tokens (by frequency) of each length in UTF-8 bytes.")


def _log_x_axes(ax, xlabel: str, ylabel: str, title: str) -> None:
    """The line charts' common dress: log x, light grid, title on the left, legend outside the plot (never on it)."""
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(color="#ddd", lw=0.6)
    ax.set_title(title, loc="left")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)


def _vocab_curves(curves: dict | None) -> Figure | None:
    import matplotlib.pyplot as plt

    if not curves:
        return None
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=_size(10.5, 4.4), layout="constrained")
        for k, (name, (x, y)) in enumerate(curves.items()):  # ten colours, then dashed
            ax.plot(np.asarray(x) / 1e3, 100 * np.asarray(y), lw=1.8, color=f"C{k % 10}",
                    ls="-" if k < 10 else "--", label=short_name(name))
        _log_x_axes(ax, "text read (kB, all corpora in the order given)", "% of the vocabulary used",
                    "vocabulary utilisation")
    return _figure(fig, "vocabulary utilisation", "Distinct tokens seen so far / |V| as more text is read.")


_SIZE_IN_NAME = regex.compile(r"\d+(?:\.\d+)?[kKmM]?")


def family(name: str) -> str:
    """Tokenizers of one family differ only in the numbers of their names (bpe-4k, bpe-16k; sweep/32000)."""
    stem = short_name(name)
    for ext in (".json", ".model", ".tiktoken"):
        stem = stem.removesuffix(ext)
    return _SIZE_IN_NAME.sub("#", stem)


def _size_curve(df) -> Figure | None:
    """bytes/token (all corpora: total bytes / total tokens) against |V|, one line per family with 2+ sizes."""
    import matplotlib.pyplot as plt

    if "vocab_size" not in df or df["vocab_size"].isna().all():
        return None
    per = df.groupby("tokenizer", sort=False).agg(bytes=("bytes", "sum"), tokens=("tokens", "sum"),
                                                  vocab=("vocab_size", "first"))
    per = per[per["tokens"] > 0]
    per["family"] = [family(t) for t in per.index]
    fams = {f: g.sort_values("vocab") for f, g in per.groupby("family", sort=False) if g["vocab"].nunique() >= 2}
    if not fams:
        return None
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=_size(9.0, 4.4), layout="constrained")
        for f, g in fams.items():
            ax.plot(g["vocab"], g["bytes"] / g["tokens"], "o-", lw=1.8, label=f.replace("#", "N"))
            for v, b, t in zip(g["vocab"], g["bytes"], g["tokens"]):
                ax.annotate(f"{b / t:.2f}", (v, b / t), textcoords="offset points", xytext=(0, 7), ha="center",
                            fontsize=8.5)
        others = per[~per["family"].isin(fams)]
        if len(others):
            ax.scatter(others["vocab"], others["bytes"] / others["tokens"], color="#999", s=18, label="others")
            for t, r in others.iterrows():
                ax.annotate(short_name(t), (r["vocab"], r["bytes"] / r["tokens"]), textcoords="offset points",
                            xytext=(4, -10), fontsize=8, color="#666")
        _log_x_axes(ax, "vocabulary size |V|", "UTF-8 bytes per token (all corpora)",
                    "bytes/token against vocabulary size")
    return _figure(fig, "bytes/token vs |V|", "Families: names that differ only in their numbers (e.g. bpe-2k, "
                   "bpe-8k).")


def figures(records: list[dict], length_hist: dict | None = None, vocab_curves: dict | None = None) -> list[Figure]:
    """Every figure the data supports, in reading order."""
    import matplotlib

    matplotlib.use("Agg")
    df = _frame(records)
    out = _heatmaps(df) + _lexicon_charts(df)
    out += [f for f in (_length_histograms(length_hist), _vocab_curves(vocab_curves), _size_curve(df)) if f]
    return out


# ------------------------------------------------------------------------------------------------------ html
def _num(v) -> str:
    """Numbers as a person reads them: ints with separators, floats to 4 significant digits."""
    if v is None or (isinstance(v, float) and v != v):
        return "n/a"
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, int) or abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.4g}"


def summary(records: list[dict]) -> list[dict]:
    """Per corpus: the tokenizer with the most bytes per token, its margin over the runner-up and the worst."""
    by: dict[str, list[dict]] = {}
    for r in records:
        if r.get("bytes_per_token"):
            by.setdefault(r["corpus"], []).append(r)
    rows = []
    for corpus, rs in by.items():
        rs = sorted(rs, key=lambda r: -r["bytes_per_token"])
        best, worst = rs[0], rs[-1]
        second = rs[1] if len(rs) > 1 else None
        rows.append({"corpus": corpus, "lang": best.get("lang"), "best": short_name(best["tokenizer"]),
                     "bytes_per_token": best["bytes_per_token"],
                     "runner_up": short_name(second["tokenizer"]) if second else None,
                     "margin_pct": 100 * (best["bytes_per_token"] / second["bytes_per_token"] - 1) if second else None,
                     "worst": short_name(worst["tokenizer"]) if second else None,
                     "best_over_worst": best["bytes_per_token"] / worst["bytes_per_token"] if second else None})
    return rows


def _summary_html(records: list[dict], diff_rows: list[dict] | None) -> str:
    e = html.escape
    parts = ["<section id='summary'><h2>Summary</h2>",
             "<table class='summary'><thead><tr><th>corpus</th><th>best compression</th><th>bytes/token</th>"
             "<th>ahead of the runner-up</th><th>worst</th><th>best / worst</th></tr></thead><tbody>"]
    for r in summary(records):
        lang = f" <span class='lang'>{e(r['lang'])}</span>" if r["lang"] else ""
        pct = r["margin_pct"]
        margin = "" if pct is None else f"+{pct:.{1 if pct >= 0.1 else 2}f}% over {e(r['runner_up'])}"
        ratio_ = "" if r["best_over_worst"] is None else f"{r['best_over_worst']:.2f}x"
        parts.append(f"<tr><td>{e(r['corpus'])}{lang}</td><td class='win'>{e(r['best'])}</td>"
                     f"<td>{_num(r['bytes_per_token'])}</td><td>{margin}</td><td>{e(r['worst'] or '')}</td>"
                     f"<td>{ratio_}</td></tr>")
    parts.append("</tbody></table>")
    if diff_rows is not None:
        from tokbench.eval.gate import improvements, regressions

        bad, good = regressions(diff_rows), improvements(diff_rows)
        parts.append(f"<p class='gate'><b class='bad'>{len(bad)} regressed</b> beyond tolerance, "
                     f"<b class='good'>{len(good)} improved</b> against the baseline.</p>")
        for cls, label, rows in (("bad", "regressed", bad), ("good", "improved", good)):
            if not rows:
                continue
            parts.append(f"<table class='changes {cls}'><caption>{label}</caption><thead><tr><th>tokenizer</th>"
                         "<th>corpus</th><th>metric</th>"
                         "<th>baseline</th><th>now</th><th>change</th></tr></thead><tbody>")
            for r in rows[:40]:
                parts.append(f"<tr><td>{e(short_name(r['tokenizer']))}</td><td>{e(r['corpus'])}</td>"
                             f"<td>{e(r['metric'])}</td><td>{_num(r['old'])}</td><td>{_num(r['new'])}</td>"
                             f"<td>{r['change_pct']:+.2f}%</td></tr>")
            if len(rows) > 40:
                parts.append(f"<tr><td colspan='6'>… and {len(rows) - 40} more (metrics.json)</td></tr>")
            parts.append("</tbody></table>")
    parts.append("</section>")
    return "\n".join(parts)


def _best_cells(rows: list[dict], keys: list[str]) -> set[tuple[int, str]]:
    """(row index, metric) of the best value per metric within one corpus (ties all marked; one row: none)."""
    from tokbench.eval.metrics import METRICS

    best = set()
    for k in keys:
        m = METRICS.get(k)
        vals = [(i, r.get(k)) for i, r in enumerate(rows) if isinstance(r.get(k), (int, float))]
        if m is None or m.better is None or len(vals) < 2 or len({v for _, v in vals}) < 2:
            continue
        top = (max if m.better == "higher" else min)(v for _, v in vals)
        best |= {(i, k) for i, v in vals if v == top}
    return best


def _table_html(records: list[dict]) -> str:
    from tokbench.eval.metrics import METRICS

    e = html.escape
    keys = [k for k in METRICS if any(r.get(k) is not None for r in records)]
    arrows = {"higher": " ↑", "lower": " ↓", None: ""}
    head = ["<th class='name' title='tokenizer (file, folder or zoo name)'>tokenizer</th>",
            "<th title='language tag'>lang</th>"]
    for k in keys:
        m = METRICS[k]
        tip = m.doc + {"higher": " (higher is better)", "lower": " (lower is better)", None: ""}[m.better]
        head.append(f"<th data-key='{k}' title='{e(tip)}'>{e(k).replace('_', '_<wbr>')}{arrows[m.better]}</th>")
    groups: dict[str, list[dict]] = {}
    for r in records:
        groups.setdefault(r["corpus"], []).append(r)
    body = []
    for corpus, rows in groups.items():
        best = _best_cells(rows, keys)
        body.append(f"<tbody><tr class='group'><th colspan='{len(keys) + 2}'>{e(corpus)}</th></tr>")
        for i, r in enumerate(rows):
            name = short_name(r["tokenizer"])
            cells = [f"<td class='name' title='{e(r['tokenizer'])}'>{e(name)}</td>",
                     f"<td>{e(r.get('lang') or 'n/a')}</td>"]
            for k in keys:
                v = r.get(k)
                cls = " class='na'" if v is None else " class='best'" if (i, k) in best else ""
                data = "" if v is None else repr(float(v))
                cells.append(f"<td data-v='{data}'{cls}>{_num(v)}</td>")
            body.append(f"<tr class='row' data-k='{e((name + ' ' + corpus).lower())}'>{''.join(cells)}</tr>")
        body.append("</tbody>")
    return ("<section id='table'><h2>All metrics</h2><p class='hint'>Grouped by corpus; click a header to sort "
            "(within each corpus), hover it for the metric's definition. ↑/↓: higher/lower is better; bold green: "
            "the best in that corpus; n/a: the metric does not apply.</p>"
            "<input id='filter' type='search' placeholder='filter by tokenizer or corpus' aria-label='filter'>"
            f"<div class='tablewrap'><table id='metrics' class='sortable'><thead><tr>{''.join(head)}</tr></thead>"
            f"{''.join(body)}</table></div></section>")


CSS = """
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d1d1f;background:#fff}
main{max-width:1340px;margin:0 auto;padding:12px 24px 48px}
h1{font-size:26px;margin:8px 0 2px}h2{font-size:20px;margin:28px 0 8px;border-bottom:1px solid #e3e3e3}
nav a{margin-right:14px;color:#2458a6}.meta{color:#666;margin:0 0 8px}
table{border-collapse:collapse}
.summary td,.summary th,.changes td,.changes th{padding:4px 10px;border-bottom:1px solid #e6e6e6;text-align:left}
.summary td.win{font-weight:600;color:#17692f}.lang{color:#777;font-size:12px}
.changes{margin:6px 0 12px}.changes caption{text-align:left;font-weight:600;padding:2px 0}.changes.bad td{background:#fdecea}.changes.good td{background:#e8f5e9}
b.bad{color:#b3261e}b.good{color:#17692f}
.figs{display:flex;flex-wrap:wrap;gap:18px 28px;align-items:flex-start}
figure{margin:0;display:table}figure img{display:block;max-width:calc(100vw - 64px);height:auto}
figcaption{display:table-caption;caption-side:bottom;color:#555;font-size:13px;padding-top:4px}
.hint{color:#555;font-size:13px;margin:4px 0}
#filter{margin:4px 0 8px;padding:5px 8px;width:320px;max-width:100%;font:inherit;border:1px solid #bbb;border-radius:4px}
.tablewrap{max-height:82vh;overflow:auto;border:1px solid #d9d9d9;max-width:100%}
#metrics{font-size:13px;font-variant-numeric:tabular-nums}
#metrics td,#metrics th{padding:3px 8px;border-bottom:1px solid #eee;text-align:right;white-space:nowrap}
#metrics thead th{position:sticky;top:0;z-index:2;background:#f3f4f6;cursor:pointer;vertical-align:bottom;
  white-space:normal;min-width:4.5em;max-width:8em;border-bottom:2px solid #ccc;user-select:none}
#metrics thead th[aria-sort=ascending]::after{content:" ▲"}#metrics thead th[aria-sort=descending]::after{content:" ▼"}
#metrics .name{position:sticky;left:0;z-index:1;background:#fff;text-align:left}
#metrics thead th.name{z-index:3;background:#f3f4f6}
#metrics tr.group th{position:sticky;left:0;text-align:left;background:#e9eef7;font-size:13.5px;padding:5px 8px}
#metrics td.na{color:#aaa}#metrics td.best{font-weight:700;color:#17692f;background:#eef8f0}
#metrics tr.row:hover td{background:#f7f9fc}
"""

JS = """
(function(){
  var table = document.getElementById('metrics');
  if (!table) return;
  function key(td){ var v = td.getAttribute('data-v'); return v === null ? td.textContent.trim().toLowerCase() : v; }
  table.querySelectorAll('thead th').forEach(function(th, col){
    th.addEventListener('click', function(){
      var asc = th.getAttribute('aria-sort') !== 'ascending';
      table.querySelectorAll('thead th').forEach(function(h){ h.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
      table.querySelectorAll('tbody').forEach(function(tb){
        var rows = Array.prototype.slice.call(tb.querySelectorAll('tr.row'));
        rows.sort(function(a, b){
          var x = key(a.cells[col]), y = key(b.cells[col]);
          if (x === '' || y === '') return (x === '') - (y === '');  /* n/a last either way */
          var nx = parseFloat(x), ny = parseFloat(y);
          var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : (x < y ? -1 : x > y ? 1 : 0);
          return asc ? c : -c;
        });
        rows.forEach(function(r){ tb.appendChild(r); });
      });
    });
  });
  var filter = document.getElementById('filter');
  filter.addEventListener('input', function(){
    var q = filter.value.trim().toLowerCase();
    table.querySelectorAll('tbody').forEach(function(tb){
      var any = false;
      tb.querySelectorAll('tr.row').forEach(function(r){
        var show = !q || r.getAttribute('data-k').indexOf(q) >= 0; r.hidden = !show; any = any || show; });
      tb.hidden = !any;
    });
  });
})();
"""


def html_report(records: list[dict], length_hist=None, budget: list[dict] | None = None, *,
                vocab_curves: dict | None = None, diff_rows: list[dict] | None = None,
                title: str = "tokbench eval") -> str:
    """The report as one self-contained HTML page (no network: styles, script and PNGs inline)."""
    import pandas as pd

    e = html.escape
    figs = figures(records, length_hist, vocab_curves)
    ntok = len({r["tokenizer"] for r in records})
    ncorp = len({r["corpus"] for r in records})
    parts = ["<!doctype html><html lang='en'><head><meta charset='utf-8'>",
             "<meta name='viewport' content='width=device-width, initial-scale=1'>",
             f"<title>{e(title)}</title><style>{CSS}</style></head><body><main>",
             f"<h1>{e(title)}</h1><p class='meta'>{ntok} tokenizer{'s' * (ntok != 1)} x {ncorp} "
             f"corp{'ora' if ncorp != 1 else 'us'}; every number is in metrics.json / metrics.csv beside this file."
             "</p><nav><a href='#summary'>summary</a><a href='#figures'>figures</a><a href='#table'>all metrics</a>"
             + ("<a href='#budget'>byte budget</a>" if budget else "") + "</nav>",
             _summary_html(records, diff_rows),
             "<section id='figures'><h2>Figures</h2><div class='figs'>"]
    for f in figs:
        parts.append(f"<figure class='plot'><img alt='{e(f.title)}' width='{f.width}' height='{f.height}' "
                     f"src='data:image/png;base64,{f.png}'><figcaption>{e(f.caption)}</figcaption></figure>")
    parts.append("</div></section>")
    parts.append(_table_html(records))
    if budget:
        parts.append("<section id='budget'><h2>Byte budget</h2><div class='tablewrap'>")
        parts.append(pd.DataFrame.from_records(budget).to_html(index=False, na_rep="n/a", classes="summary",
                                                                border=0))
        parts.append("</div></section>")
    parts.append("<p class='hint'>Metric definitions: the registry in tokbench/eval/metrics.py (n/a = does not "
                 f"apply).</p></main><script>{JS}</script></body></html>\n")
    return "\n".join(parts)


def write_report(out_dir: str | Path, records: list[dict], length_hist=None, budget: list[dict] | None = None,
                 force: bool = False, *, vocab_curves: dict | None = None, diff_rows: list[dict] | None = None,
                 title: str = "tokbench eval") -> Path:
    """Write the report folder atomically (it appears complete or not at all)."""
    with atomic_dir(out_dir, force=force) as tmp:
        for fmt, ext in (("json", "json"), ("csv", "csv"), ("md", "md")):
            (tmp / f"metrics.{ext}").write_text(format_records(records, fmt), encoding="utf-8")
            if budget:
                (tmp / f"budget.{ext}").write_text(format_records(budget, fmt), encoding="utf-8")
        page = html_report(records, length_hist, budget, vocab_curves=vocab_curves, diff_rows=diff_rows, title=title)
        (tmp / "index.html").write_text(page, encoding="utf-8")
    return Path(out_dir)
