"""TokenAdapt (arXiv 2505.09738): local, global and hybrid estimates over an auxiliary embedding space phi.

- local: pieces p_i of the new token s by the old tokenizer; a = softmax_i(cos(phi(s), phi(p_i))); l_i = len(p_i)/len(s)
  (lengths in bytes, so the l_i of a split sum to 1); w = softmax(((a + l) / 2) / T); e_loc = sum_i w_i E[p_i].
- global: top-k old tokens by cos(phi(s), phi(old)); w = softmax(sim / T) over those with sim >= threshold
  (renormalised); e_glob = sum_j w_j E[j]. Fails when no neighbour passes the threshold.
- hybrid: (1 - lambda) e_loc + lambda e_glob; one estimate alone when the other fails; random when both fail.
Everything is vectorised over all targets at once (segment softmaxes on flat arrays, chunked matrix top-k).
"""

from __future__ import annotations

import numpy as np

from tokbench.transplant.aux import spaces_for, top_similar
from tokbench.transplant.core import Context, Plan
from tokbench.transplant.methods import register

DEFAULTS = {"temperature": 0.3, "top_k": 3, "weight": 0.3, "threshold": 0.5, "aux": "minilm"}


def _segment_softmax(x: np.ndarray, seg: np.ndarray, n: int) -> np.ndarray:
    """softmax of x within each segment (seg[i] = segment of x[i])."""
    m = np.full(n, -np.inf)
    np.maximum.at(m, seg, x)
    e = np.exp(x - m[seg])
    return e / np.bincount(seg, weights=e, minlength=n)[seg]


def local_estimate(ctx: Context, phi_old: np.ndarray, phi_new: np.ndarray, temperature: float):
    """Flat (row, old id, weight) of the local estimate; ok[row] False when the token has no pieces."""
    n = len(ctx.targets)
    lens = np.array([len(p) for p in ctx.pieces], dtype=np.int64)
    flat = np.concatenate(ctx.pieces) if lens.sum() else np.zeros(0, np.int64)
    rep = np.repeat(np.arange(n), lens)
    cos = np.einsum("ij,ij->i", phi_new[rep], phi_old[flat]).astype(np.float64)
    a = _segment_softmax(cos, rep, n)
    old_len = np.fromiter((len(b) for b in ctx.old_tok.all_token_bytes()[: len(ctx.old_in)]), dtype=np.float64)
    tgt_len = np.fromiter((max(len(b), 1) for b in ctx.target_bytes), dtype=np.float64, count=n)
    l = old_len[flat] / tgt_len[rep]
    w = _segment_softmax(((a + l) / 2) / temperature, rep, n)
    return rep, flat, w, lens > 0


def global_estimate(ctx: Context, phi_old: np.ndarray, phi_new: np.ndarray, temperature: float, top_k: int,
                    threshold: float, chunk: int = 512):
    """Flat (row, old id, weight) of the global estimate over the usable old tokens; ok[row] as above."""
    n = len(ctx.targets)
    cand = np.flatnonzero(ctx.usable_old & (np.linalg.norm(phi_old, axis=1) > 0))
    k = min(top_k, len(cand))
    if k == 0 or n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros(n, bool)
    top, sims = top_similar(phi_new, np.ascontiguousarray(phi_old[cand]), k, chunk)
    top = cand[top]
    keep = (sims >= threshold) & (np.linalg.norm(phi_new, axis=1) > 0)[:, None]
    logits = np.where(keep, sims / temperature, -np.inf).astype(np.float64)
    with np.errstate(invalid="ignore"):
        e = np.exp(logits - np.max(np.where(keep, logits, -1e30), axis=1, keepdims=True))
    e[~keep] = 0
    total = e.sum(axis=1, keepdims=True)
    w = np.divide(e, total, out=np.zeros_like(e), where=total > 0)
    rows = np.repeat(np.arange(n), k)
    flat_keep = keep.ravel()
    return rows[flat_keep], top.ravel()[flat_keep], w.ravel()[flat_keep], keep.any(axis=1)


def tokenadapt(ctx: Context, mode: str) -> Plan:
    p = {**DEFAULTS, **{k: v for k, v in ctx.params.items() if v is not None}}
    n = len(ctx.targets)
    lam = float(p["weight"]) if mode == "hybrid" else (0.0 if mode == "local" else 1.0)
    phi_old, phi_new = spaces_for(ctx, p["aux"])
    parts, ok = [], {}
    if lam < 1.0:
        r, i, w, ok["local"] = local_estimate(ctx, phi_old, phi_new, float(p["temperature"]))
        parts.append(("local", r, i, w))
    if lam > 0.0:
        r, i, w, ok["global"] = global_estimate(ctx, phi_old, phi_new, float(p["temperature"]), int(p["top_k"]),
                                                float(p["threshold"]))
        parts.append(("global", r, i, w))
    has_l = ok.get("local", np.zeros(n, bool))
    has_g = ok.get("global", np.zeros(n, bool))
    coef = {
        "local": np.where(has_g, 1.0 - lam, 1.0) * has_l,
        "global": np.where(has_l, lam, 1.0) * has_g,
    }
    rows = np.concatenate([r for _, r, _, _ in parts])
    ids = np.concatenate([i for _, _, i, _ in parts])
    wts = np.concatenate([w * coef[name][r] for name, r, _, w in parts])
    nz = wts > 0
    rows, ids, wts = rows[nz], ids[nz], wts[nz]
    order = np.argsort(rows, kind="stable")
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n))]).astype(np.int64)
    source = np.where(has_l & has_g, "tokenadapt:hybrid",
                      np.where(has_l, "tokenadapt:local", np.where(has_g, "tokenadapt:global", "fallback:random")))
    return Plan(indptr, ids[order].astype(np.int64), wts[order].astype(np.float32), source.tolist(), sampler="random")


@register("tokenadapt", "TokenAdapt hybrid: (1-lambda) local subword estimate + lambda global top-k neighbours")
def hybrid(ctx: Context) -> Plan:
    return tokenadapt(ctx, "hybrid")


@register("tokenadapt-local", "TokenAdapt local estimate only (weighted old subword rows)")
def local(ctx: Context) -> Plan:
    return tokenadapt(ctx, "local")


@register("tokenadapt-global", "TokenAdapt global estimate only (top-k neighbours in the auxiliary space)")
def global_(ctx: Context) -> Plan:
    return tokenadapt(ctx, "global")
