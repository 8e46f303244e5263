"""OMP (as mergekit's tokensurgeon uses it): write each new token's vector in an auxiliary space as a sparse
combination of shared tokens' vectors, found by orthogonal matching pursuit, and give the new token the same
combination of those tokens' old rows (input, and untied output and bias alike, through the Plan).

Atoms: mergekit combines tokens shared by both vocabularies because its donor space is another model's embedding
matrix, which only holds the new vocabulary. Here the auxiliary space embeds every old token, so every usable old
token can be an atom (atoms="old", the default). atoms="shared" keeps mergekit's restriction; measured on SmolLM2 it
is much worse when the overlap is small (Turkish BPE: ~1,100 shared tokens; FLORES tr bits per byte 5.19 vs 3.50 for
TokenAdapt; reports/bench/transplant.md).

Auxiliary spaces (`aux`): minilm or glove embed the decoded strings of both sides; `self` is the old model's own
space: the new token's subword-mean vector, written over the old rows themselves (so the plain code with k -> large
reproduces subword-mean, and small k picks the few old tokens that explain it).

Centring and shrinkage (defaults centre=True, shrink=0.5). mergekit's donor space is another LM's embedding matrix,
roughly a linear image of the base model's, so its raw least-squares code transfers as is. A string embedder is
not: (1) both spaces have a large common direction (SmolLM2's mean row has cosine ~0.66 to its rows), and an
uncentred code's coefficients sum to 1.15 (median, en32k), putting 15% too much of the old mean row into every new
row; the centred code is affine, x - mu = sum c_j (a_j - mu), and the new row mu_old + sum c_j (E_j - mu_old), both
means over the atoms (exact whenever the model space is an affine image of the aux space). (2) The coefficients are
noisy (negative mass ~2.5 at k=64), so a row at full length points the wrong way with full confidence; with tied
embeddings that row is also the output vector, and its noise becomes logit mass. shrink s returns
mu + s (code - mu). s = 0.5 is the least-squares scale of (code - mu) onto (true row - mu) on SmolLM2's hold-out
(10% of its own tokens: 0.49-0.52 for every OMP variant), confirmed on FLORES *dev* (never devtest): en32k bits per
byte 2.268 plain, 2.111 centred, 2.090 centred + shrink, TokenAdapt 2.096; mistral-v1 1.648 / 1.616 / 1.571 vs
1.562; Turkish BPE 5.044 / 4.302 / 4.251 vs 3.889 (MiniLM, English-only, places Turkish strings poorly; TokenAdapt's
local estimate leans on the old pieces instead).

Numerics: atoms are unit vectors (codes() rescales the coefficients to the raw ones); each step adds the atom most
correlated with the residual (Batch-OMP: residual correlations from the pool's Gram matrix, the chosen atoms
orthonormalised as they come); a token stops early when its residual falls below `tol` of its norm or the next atom
lies (to 1e-3) in the span of the chosen ones. The final coefficients are the least-squares fit on the chosen atoms
(one triangular solve in float64, no inverse). Batched over tokens with torch; each token's atoms are searched among
its `pool` most correlated shared tokens (the whole dictionary at every step would cost tokens x vocabulary x dim
per step), so a 32k vocabulary takes seconds.
"""

from __future__ import annotations

import numpy as np

from tokbench.errors import UsageError, param
from tokbench.transplant.aux import spaces_for
from tokbench.transplant.core import Context, Plan
from tokbench.transplant.methods import register

DEFAULTS = {"k": 64, "aux": "minilm", "pool": 256, "atoms": "old", "centre": True, "shrink": 0.5}


def omp(x: np.ndarray, atoms: np.ndarray, k: int, pool: int = 256, chunk: int = 128,
        tol: float = 1e-3) -> tuple[np.ndarray, np.ndarray]:
    """Sparse codes of the rows of `x` [n, a] over the unit rows of `atoms` [m, a] (a token stops when its residual is
    below `tol` of its norm): (indices [n, k] into atoms, -1
    where unused; coefficients [n, k], 0 where unused), so that x[i] ~= sum_j coef[i, j] * atoms[idx[i, j]]."""
    import torch

    n, m = len(x), len(atoms)
    k = max(0, min(k, m, x.shape[1]))
    idx_out = np.full((n, k), -1, dtype=np.int64)
    coef_out = np.zeros((n, k), dtype=np.float32)
    if n == 0 or k == 0:
        return idx_out, coef_out
    pool = max(k, min(pool, m))
    D = torch.from_numpy(np.ascontiguousarray(atoms, dtype=np.float32))
    for c0 in range(0, n, chunk):
        X = torch.from_numpy(np.ascontiguousarray(x[c0:c0 + chunk], dtype=np.float32))
        idx, coef = _omp_chunk(X, D, k, pool, tol)
        idx_out[c0:c0 + chunk] = idx.numpy()
        coef_out[c0:c0 + chunk] = coef.numpy()
    return idx_out, coef_out


def _omp_chunk(X, D, k: int, pool: int, tol: float):
    """Batch-OMP (Rubinstein et al. 2008) over each token's candidate pool, in Gram form: with q_t the chosen atoms
    orthonormalised (Gram-Schmidt), P[:, t] = Dp q_t is kept, so the new atom's overlaps with the q_t are read off P
    (the next row of the Cholesky factor L of the chosen atoms' Gram, no solve), the residual correlations drop by
    z_s P[:, s] and the squared residual by z_s^2 (z = Q^T x). A step costs O(pool x step), not O(pool x dim). The
    coefficients solve L^T c = z at the end: least squares on the chosen atoms, one triangular solve, no inverse."""
    import torch

    c, a = X.shape
    rows = torch.arange(c)
    cand = torch.topk((X @ D.T).abs(), pool, dim=1).indices  # [c, pool] candidate atoms per token
    Dp = D[cand]  # [c, pool, a]
    G = torch.bmm(Dp, Dp.transpose(1, 2))  # [c, pool, pool]
    alpha0 = torch.bmm(Dp, X.unsqueeze(-1)).squeeze(-1)  # [c, pool] correlations with x
    alpha = alpha0.clone()
    P = torch.zeros((c, k, pool))  # correlations of the pool with each orthonormalised chosen atom
    L = torch.eye(k).repeat(c, 1, 1)  # Cholesky factor of the chosen atoms' Gram (unused rows: identity)
    z = torch.zeros((c, k))
    chosen = torch.full((c, k), -1, dtype=torch.long)
    taken = torch.zeros((c, pool), dtype=torch.bool)
    xx = (X * X).sum(1)
    resid = xx.clone()
    live = xx > 0
    for s in range(k):
        j = alpha.abs().masked_fill(taken, -1.0).argmax(dim=1)
        w = P[rows, :s, j]  # q_t . d_j for the chosen t
        d2 = G[rows, j, j] - (w * w).sum(1)
        ok = live & (d2 > 1e-6)  # the atom adds a direction (unit atoms: 1e-3 of its length)
        d = torch.where(ok, d2.clamp_min(1e-30).sqrt(), torch.ones_like(d2))
        w = torch.where(ok[:, None], w, torch.zeros_like(w))
        p = (G[rows, j] - torch.bmm(w.unsqueeze(1), P[:, :s]).squeeze(1)) / d[:, None]  # G is symmetric
        zs = torch.where(ok, (alpha0[rows, j] - (w * z[:, :s]).sum(1)) / d, torch.zeros_like(d))
        P[:, s] = torch.where(ok[:, None], p, torch.zeros_like(p))
        L[:, s, :s] = w
        L[:, s, s] = d
        z[:, s] = zs
        chosen[:, s] = torch.where(ok, j, torch.full_like(j, -1))
        taken[rows, j] = True
        alpha = alpha - zs[:, None] * P[:, s]
        resid = resid - zs * zs
        live = ok & (resid > (tol * tol) * xx)
        if not live.any():
            break
    coef = torch.linalg.solve_triangular(L.transpose(1, 2).double(), z.double().unsqueeze(-1), upper=True)
    used = chosen >= 0
    idx = torch.where(used, torch.gather(cand, 1, chosen.clamp_min(0)), torch.full_like(chosen, -1))
    return idx, torch.where(used, coef.squeeze(-1).float(), torch.zeros((), dtype=torch.float32))


def codes(x: np.ndarray, atoms: np.ndarray, k: int, pool: int = 256, centre: bool = False):
    """OMP codes of the raw rows of `x` [n, a] over the raw rows of `atoms` [m, a] (any norms: OMP runs on unit
    vectors, the coefficients are rescaled to the raw ones): (idx [n, k], -1 unused; coef [n, k]; mean_weight [n]).
    Plain: x ~= sum_j coef_j atoms[idx_j] (mean_weight 0). centre: the code is affine about the atoms' mean mu,
    x - mu ~= sum_j coef_j (atoms[idx_j] - mu), i.e. x ~= sum_j coef_j atoms[idx_j] + mean_weight * mu with
    mean_weight = 1 - sum_j coef_j; the same code applied to another space's rows of those atoms (and their mean)
    is exact when that space is an affine image of this one."""
    x = np.asarray(x, dtype=np.float64)
    atoms = np.asarray(atoms, dtype=np.float64)
    if centre:
        mu = atoms.mean(axis=0)
        atoms, x = atoms - mu, x - mu
    atom_norm = np.linalg.norm(atoms, axis=1)
    atom_norm[atom_norm == 0] = 1.0
    x_norm = np.linalg.norm(x, axis=1)
    unit_x = x / np.maximum(x_norm, 1e-30)[:, None]
    idx, coef = omp(unit_x.astype(np.float32), (atoms / atom_norm[:, None]).astype(np.float32), k, pool)
    used = idx >= 0
    coef = np.where(used, coef * x_norm[:, None] / atom_norm[np.maximum(idx, 0)], 0.0)
    mean_weight = 1.0 - coef.sum(axis=1) if centre else np.zeros(len(x))
    return idx, coef, mean_weight


@register("omp", "orthogonal matching pursuit: k shared tokens whose aux vectors combine into the new token's (--k)")
def omp_method(ctx: Context) -> Plan:
    p = {**DEFAULTS, **{k: v for k, v in ctx.params.items() if v is not None}}
    k, pool = int(p["k"]), int(p["pool"])
    if k < 1:
        raise UsageError(f"{param('k')} must be >= 1 (got {k})")
    n = len(ctx.targets)
    if p["atoms"] not in ("old", "shared"):
        raise UsageError(f"omp atoms must be old or shared, not {p['atoms']!r}")
    centre = str(p["centre"]).lower() not in ("0", "false", "no")
    shrink = float(p["shrink"])
    if not 0 < shrink <= 1:
        raise UsageError(f"omp shrink must be in (0, 1] (got {shrink})")
    phi_old, phi_new = spaces_for(ctx, p["aux"])
    pool_ok = ctx.usable_old if p["atoms"] == "old" else ctx.shared_old
    atoms_ids = np.flatnonzero(pool_ok & (np.linalg.norm(phi_old, axis=1) > 0))
    has = np.linalg.norm(phi_new, axis=1) > 0
    if p["aux"] == "self":  # the old space itself: the raw subword-mean vector over the raw old rows
        from tokbench.transplant.methods.subword_mean import subword_mean

        atoms_raw = ctx.old_in[atoms_ids].astype(np.float64)
        x_raw = subword_mean(ctx).apply(ctx.old_in, ctx.rng)[has].astype(np.float64)
    else:
        atoms_raw = phi_old[atoms_ids].astype(np.float64)
        x_raw = phi_new[has].astype(np.float64)
    idx, coef, mean_w = codes(x_raw, atoms_raw, k, pool, centre)
    rows: list[tuple[np.ndarray, np.ndarray]] = []
    source: list[str] = []
    mean_weight = np.zeros(n, dtype=np.float32)
    fallback = None
    pos = np.cumsum(has) - 1
    for i in range(n):
        if has[i]:
            r = pos[i]
            used = idx[r] >= 0
            a = idx[r][used]
            if len(a):
                # shrink s: mu + s (code - mu), mu the atoms' mean row (the plain code's mean term is 0)
                rows.append((atoms_ids[a], (shrink * coef[r][used]).astype(np.float32)))
                source.append(f"omp:{len(a)}")
                mean_weight[i] = 1.0 - shrink * (1.0 - mean_w[r]) if centre else 1.0 - shrink
                continue
        if fallback is None:  # no aux vector: the old pieces' mean
            from tokbench.transplant.methods.subword_mean import subword_mean

            fallback = subword_mean(ctx)
        ids, w = fallback.row(i)
        rows.append((ids, w))
        source.append("fallback:subword-mean" if len(ids) else "fallback:mean")
    plan = Plan.from_lists(rows, source, sampler="mean")
    if centre or shrink != 1.0:
        plan.mean_weight, plan.mean_ids = mean_weight, atoms_ids
    return plan
