"""OMP and FOCUS: the numerical cores against independent references (a known sparse code, a brute-force simplex
projection), then both as registered methods on a tiny model."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tokbench.tokenizer import load_tokenizer
from tokbench.transplant.core import Context, Plan, transplant
from tokbench.transplant.methods import get_method
from tokbench.transplant.methods.focus import sparsemax
from tokbench.transplant.methods.omp import codes, omp


def unit(m: np.ndarray) -> np.ndarray:
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def test_omp_recovers_an_exactly_sparse_three_atom_code():
    rng = np.random.default_rng(0)
    atoms = unit(rng.standard_normal((300, 48)))
    n = 40
    support = np.stack([rng.choice(300, 3, replace=False) for _ in range(n)])
    coef = rng.uniform(0.5, 2.0, (n, 3)) * rng.choice([-1, 1], (n, 3))
    x = np.einsum("nk,nka->na", coef, atoms[support])
    idx, c = omp(x, atoms, k=8, pool=300)
    for i in range(n):
        used = idx[i] >= 0
        assert sorted(idx[i][used]) == sorted(support[i])  # exactly the true atoms, then it stops
        got = dict(zip(idx[i][used], c[i][used]))
        np.testing.assert_allclose([got[j] for j in support[i]], coef[i], rtol=1e-4, atol=1e-5)
    recon = np.einsum("nk,nka->na", np.where(idx >= 0, c, 0), atoms[np.maximum(idx, 0)])
    np.testing.assert_allclose(recon, x, atol=1e-4)


def test_omp_is_least_squares_on_its_chosen_atoms():
    """A dense target: whatever atoms OMP picks, its coefficients are the least-squares fit on them (numpy lstsq)."""
    rng = np.random.default_rng(1)
    atoms = unit(rng.standard_normal((200, 32)))
    x = rng.standard_normal((10, 32))
    idx, c = omp(x, atoms, k=6, pool=200)
    for i in range(10):
        ref, *_ = np.linalg.lstsq(atoms[idx[i]].T, x[i], rcond=None)
        np.testing.assert_allclose(c[i], ref, rtol=1e-3, atol=1e-4)


def test_centred_omp_code_transfers_exactly_through_an_affine_map():
    """An aux space with a large common offset (as MiniLM's and SmolLM2's both have) and a target that is an exactly
    3-sparse combination about the atoms' mean: the centred code finds those 3 atoms, and the plan built from it
    (rows plus mean_weight times the mean of the atoms' rows) reproduces the target's image under any affine map
    aux -> model, the mean term included. The plain code of the same target needs the offset as a 4th direction."""
    rng = np.random.default_rng(3)
    m, a, d, n = 300, 48, 20, 30
    atoms = 4.0 + rng.standard_normal((m, a))  # every atom shares a big offset
    mu = atoms.mean(0)
    support = np.stack([rng.choice(m, 3, replace=False) for _ in range(n)])
    c = rng.uniform(0.3, 1.5, (n, 3)) * rng.choice([-1, 1], (n, 3))
    x = mu + np.einsum("nk,nka->na", c, atoms[support] - mu)
    M, b = rng.standard_normal((a, d)), rng.standard_normal(d)
    model_rows = atoms @ M + b  # the "old model" rows of the atoms: an affine image of the aux space
    idx, coef, mean_w = codes(x, atoms, k=8, pool=m, centre=True)
    for i in range(n):
        assert sorted(idx[i][idx[i] >= 0]) == sorted(support[i])
    np.testing.assert_allclose(mean_w, 1 - c.sum(1), rtol=1e-4, atol=1e-4)
    rows = [(idx[i][idx[i] >= 0], coef[i][idx[i] >= 0]) for i in range(n)]
    plan = Plan.from_lists(rows, ["omp"] * n)
    plan.mean_weight, plan.mean_ids = mean_w.astype(np.float32), np.arange(m)
    got = plan.apply(np.concatenate([model_rows, rng.standard_normal((5, d)) * 100]), np.random.default_rng(0))
    np.testing.assert_allclose(got, x @ M + b, rtol=1e-3, atol=2e-3)  # the 5 extra rows are not in the mean
    plain_idx, plain_c, plain_mw = codes(x, atoms, k=3, pool=m)
    assert (plain_mw == 0).all()
    plain = np.einsum("nk,nka->na", plain_c, atoms[np.maximum(plain_idx, 0)])
    assert np.median(np.linalg.norm(plain - x, axis=1) / np.linalg.norm(x, axis=1)) > 1e-2


def brute_simplex_projection(z: np.ndarray) -> np.ndarray:
    """argmin ||p - z|| over the simplex by trying every support (exact for small vectors)."""
    best, best_d = None, np.inf
    for size in range(1, len(z) + 1):
        for s in itertools.combinations(range(len(z)), size):
            s = list(s)
            p = np.zeros_like(z)
            p[s] = z[s] - (z[s].sum() - 1) / size
            if (p[s] >= 0).all():
                d = np.sum((p - z) ** 2)
                if d < best_d:
                    best, best_d = p, d
    return best


def test_sparsemax_equals_brute_force_simplex_projection():
    rng = np.random.default_rng(2)
    z = np.concatenate([rng.standard_normal((30, 6)) * s for s in (0.1, 1.0, 5.0)])
    got = sparsemax(z)
    for row, p in zip(z, got):
        np.testing.assert_allclose(p, brute_simplex_projection(row), atol=1e-12)
    np.testing.assert_allclose(got.sum(axis=1), 1.0)
    assert (got == 0).any()  # really sparse


def test_sparsemax_ignores_minus_infinity():
    z = np.array([[0.3, -np.inf, 0.2, 0.25]])
    p = sparsemax(z)
    assert p[0, 1] == 0
    np.testing.assert_allclose(p[0, [0, 2, 3]], brute_simplex_projection(np.array([0.3, 0.2, 0.25])), atol=1e-12)


@pytest.mark.parametrize("method,params", [("omp", {"aux": "self", "k": 4, "atoms": "shared"}),
                                           ("focus", {"aux": "self", "top_k": 8})])
def test_methods_transplant_tiny_model(tmp_path, models, toks, method, params):
    """Both run end to end (untied: the same combination fills the output rows) and use only shared old tokens
    (omp when told: its default atoms are every usable old token)."""
    folder = models["untied"]
    res = transplant(str(folder), str(toks["new"]), method, out=tmp_path / "out", params=params)
    assert res.counts["approximated"] > 0
    old_tok, new_tok = load_tokenizer(folder), load_tokenizer(toks["new"])
    new_bytes = set(new_tok.all_token_bytes())
    used = [j for rec in res.manifest["tokens"] for j in rec.get("from", []) if rec["source"].startswith(method)]
    assert used and all(old_tok.token_bytes(j) in new_bytes for j in used)
    if method == "focus":
        sums = [sum(r["weights"]) for r in res.manifest["tokens"] if r["source"].startswith("focus")]
        np.testing.assert_allclose(sums, 1.0, atol=1e-3)


def test_omp_self_space_with_large_k_approaches_subword_mean(models, toks):
    """In the model's own space, OMP writes the subword-mean vector over old rows: with k = dim it is reproduced."""
    from safetensors import safe_open

    folder = models["tied"]
    old_tok, new_tok = load_tokenizer(folder), load_tokenizer(toks["new"])
    with safe_open(str(folder / "model.safetensors"), "np") as f:
        emb = f.get_tensor("model.embed_tokens.weight")
    new_only = [i for i in range(new_tok.vocab_size) if old_tok.token_to_id(new_tok.id_to_token(i)) is None
                and i not in new_tok.special_ids]
    targets = np.array(new_only[:50])
    ctx = lambda p: Context(old_tok, new_tok, emb, targets, params=p)  # noqa: E731
    sub = get_method("subword-mean")(ctx({})).apply(emb, np.random.default_rng(0))
    raw = {"centre": False, "shrink": 1.0}  # the plain code, neither centred nor shrunk (the defaults are)
    est = get_method("omp")(ctx({"aux": "self", "k": emb.shape[1], "pool": 400, **raw})).apply(emb, np.random.default_rng(0))
    cos = np.sum(sub * est, 1) / np.linalg.norm(sub, axis=1) / np.linalg.norm(est, axis=1)
    assert np.median(cos) > 0.99


@pytest.mark.parametrize("centre", [False, True])
def test_omp_shrink_moves_each_row_toward_the_atoms_mean(models, toks, centre):
    """shrink s: every approximated row is mu + s (row without shrink - mu), mu the mean of the atoms' old rows."""
    from safetensors import safe_open

    folder = models["tied"]
    old_tok, new_tok = load_tokenizer(folder), load_tokenizer(toks["new"])
    with safe_open(str(folder / "model.safetensors"), "np") as f:
        emb = f.get_tensor("model.embed_tokens.weight")
    targets = np.array([i for i in range(new_tok.vocab_size) if old_tok.token_to_id(new_tok.id_to_token(i)) is None
                        and i not in new_tok.special_ids][:40])
    ctx = lambda p: Context(old_tok, new_tok, emb, targets, params={"aux": "self", "k": 4, "centre": centre, **p})  # noqa: E731
    full_plan = get_method("omp")(ctx({"shrink": 1.0}))
    full = full_plan.apply(emb, np.random.default_rng(0))
    half_ctx = ctx({"shrink": 0.5})
    half = get_method("omp")(half_ctx).apply(emb, np.random.default_rng(0))
    atoms = np.flatnonzero(half_ctx.usable_old & (np.linalg.norm(emb, axis=1) > 0))
    mu = emb[atoms].astype(np.float64).mean(0)
    coded = np.array([s.startswith("omp") for s in full_plan.source])
    assert coded.sum() > 10
    np.testing.assert_allclose(half[coded], (mu + 0.5 * (full - mu))[coded], rtol=1e-4, atol=1e-5)
    with pytest.raises(Exception, match="shrink"):
        get_method("omp")(ctx({"shrink": 0}))
