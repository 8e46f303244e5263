"""Subword mean (FVT): split the new token's bytes with the old tokenizer and average those rows."""

import numpy as np

from tokbench.transplant.core import Context, Plan
from tokbench.transplant.methods import register


@register("subword-mean", "mean of the old rows the old tokenizer splits the new token into (FVT)")
def subword_mean(ctx: Context) -> Plan:
    rows, source = [], []
    for ids in ctx.pieces:
        if len(ids):
            rows.append((ids, np.full(len(ids), 1.0 / len(ids), dtype=np.float32)))
            source.append("subword-mean")
        else:
            rows.append((ids, np.zeros(0, np.float32)))
            source.append("fallback:mean")
    return Plan.from_lists(rows, source, sampler="mean")
