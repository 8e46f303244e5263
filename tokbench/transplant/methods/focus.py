"""FOCUS (Dobler & de Melo 2023): a new token's row is a sparsemax-weighted combination of the old rows of the
shared tokens (those in both vocabularies) most similar to it in an auxiliary space. Sparsemax (the Euclidean
projection onto the probability simplex) gives exact zeros, so only a handful of close neighbours contribute,
where softmax would smear weight over all of them.

The similarities are cosines in the `aux` space (minilm, glove or self) divided by `temperature`; sparsemax is taken over
each token's `top_k` most similar shared tokens (it equals sparsemax over all of them whenever its support is
smaller than top-k, which the report counts). Tokens without an auxiliary vector fall back to subword-mean.
"""

from __future__ import annotations

import numpy as np

from tokbench.errors import UsageError, param
from tokbench.transplant.aux import spaces_for, top_similar
from tokbench.transplant.core import Context, Plan
from tokbench.transplant.methods import register

DEFAULTS = {"aux": "minilm", "top_k": 64, "temperature": 0.3}  # T chosen on the SmolLM2 hold-out


def sparsemax(z: np.ndarray) -> np.ndarray:
    """Row-wise sparsemax (Martins & Astudillo 2016): argmin_p ||p - z||^2 over the simplex; -inf entries get 0."""
    z = np.asarray(z, dtype=np.float64)
    finite = np.isfinite(z)
    zs = -np.sort(-np.where(finite, z, -np.inf), axis=1)
    ks = np.arange(1, z.shape[1] + 1)
    cums = np.cumsum(np.where(np.isfinite(zs), zs, 0.0), axis=1)
    support = (1 + ks * zs > cums) & np.isfinite(zs)
    kz = support.sum(axis=1)  # the support is a prefix of the sorted row
    tau = (np.take_along_axis(cums, np.maximum(kz - 1, 0)[:, None], axis=1)[:, 0] - 1) / np.maximum(kz, 1)
    return np.where(finite, np.maximum(z - tau[:, None], 0.0), 0.0)


@register("focus", "FOCUS: sparsemax over cosines to the most similar shared tokens in the aux space")
def focus(ctx: Context) -> Plan:
    p = {**DEFAULTS, **{k: v for k, v in ctx.params.items() if v is not None}}
    top_k, temperature = int(p["top_k"]), float(p["temperature"])
    if top_k < 1 or temperature <= 0:
        raise UsageError(f"focus needs {param('top_k')} >= 1 and {param('temperature')} > 0 (got {top_k}, {temperature})")
    n = len(ctx.targets)
    phi_old, phi_new = spaces_for(ctx, p["aux"])
    cand = np.flatnonzero(ctx.shared_old & (np.linalg.norm(phi_old, axis=1) > 0))
    has = np.linalg.norm(phi_new, axis=1) > 0
    weights = np.zeros((0, 0))
    if len(cand) and has.any():
        top, sims = top_similar(phi_new[has], np.ascontiguousarray(phi_old[cand]), top_k)
        weights = sparsemax(sims / temperature)
    from tokbench.transplant.methods.subword_mean import subword_mean

    fallback = subword_mean(ctx) if not has.all() or not len(cand) else None
    rows, source = [], []
    pos = np.cumsum(has) - 1
    for i in range(n):
        if has[i] and len(weights):
            w = weights[pos[i]]
            keep = w > 0
            rows.append((cand[top[pos[i]][keep]], w[keep].astype(np.float32)))
            source.append(f"focus:{int(keep.sum())}")
            continue
        ids, w = fallback.row(i)
        rows.append((ids, w))
        source.append("fallback:subword-mean" if len(ids) else "fallback:mean")
    return Plan.from_lists(rows, source, sampler="mean")
