"""Report pieces without a browser: figure sizes for any table shape, the summary, families, number formatting."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tokbench.eval import report


@pytest.mark.parametrize("rows,cols", [(1, 1), (1, 12), (14, 9), (40, 3), (3, 40)])
def test_heatmaps_fit_a_laptop_screen_whatever_the_shape(rows, cols):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.random((rows, cols)), index=[f"corpus-{i}" for i in range(rows)],
                         columns=[f"tokenizer-{j}" for j in range(cols)])
    f = report.heatmap(frame, "t", "c")
    assert f.height >= 250 and f.width / f.height <= 3.0 and f.width <= 1300
    assert report.heatmap(frame * np.nan, "t", "c") is None  # nothing applies: no figure


def test_summary_names_the_winner_and_its_margin():
    recs = [{"tokenizer": "a", "corpus": "c", "lang": "en", "bytes_per_token": 4.0},
            {"tokenizer": "dir/b.json", "corpus": "c", "lang": "en", "bytes_per_token": 5.0},
            {"tokenizer": "z", "corpus": "c", "lang": "en", "bytes_per_token": 2.0},
            {"tokenizer": "a", "corpus": "d", "lang": None, "bytes_per_token": None}]
    (row,) = report.summary(recs)
    assert row["best"] == "b.json" and row["runner_up"] == "a" and row["worst"] == "z"
    assert row["margin_pct"] == pytest.approx(25.0) and row["best_over_worst"] == pytest.approx(2.5)


def test_families_differ_only_in_numbers():
    assert report.family("out/bpe-4k.json") == report.family("bpe-16k.json") == "bpe-#"
    assert report.family("cl100k_base") != report.family("o200k_base")


def test_numbers_read_like_numbers():
    assert [report._num(v) for v in (None, 100277, 1423.58, 0.002412, 3.9021)] == \
        ["n/a", "100,277", "1,424", "0.002412", "3.902"]
