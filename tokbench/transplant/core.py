"""Tokenizer transplantation: give a pretrained causal LM a new vocabulary.

Shared tokens (same exact bytes in both vocabularies, so `Ġthe` and `▁the` meet as b" the") copy their rows; special
tokens are matched by string, then by role; the remaining unique new tokens are filled by a method from
`tokbench.transplant.methods`. A method returns a `Plan`: for each token either a sparse combination of old rows
(applied alike to the input matrix, an untied output matrix and its bias) or nothing, in which case the plan's
`sampler` draws the row from the statistics of each matrix on its own.
"""

from __future__ import annotations

import copy
import json
import math
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from tokbench.console import status
from tokbench.errors import UsageError, WorkError, param
from tokbench.io import atomic_dir, atomic_write
from tokbench.tokenizer import load_tokenizer
from tokbench.tokenizer.base import Tokenizer

ROLES = ("bos", "eos", "pad", "unk")


# ----------------------------------------------------------------------------------------------------------- plans
@dataclass
class Plan:
    """How a method fills its targets: CSR rows over old token ids (empty row -> `sampler`)."""

    indptr: np.ndarray  # int64 [n + 1]
    indices: np.ndarray  # int64 [nnz] old ids
    weights: np.ndarray  # float32 [nnz]
    source: list[str]  # per target, e.g. "tokenadapt:hybrid", "fallback:random"
    sampler: str = "mean"  # "mean" | "random" | "hewitt" for rows without a combination
    mean_weight: np.ndarray | None = None  # float32 [n]: each row also adds this times a mean row (affine codes)
    mean_ids: np.ndarray | None = None  # old ids that mean row averages (None: every row of the matrix)

    @classmethod
    def from_lists(cls, rows: list[tuple[np.ndarray, np.ndarray]], source: list[str], sampler: str = "mean") -> Plan:
        lengths = np.array([len(ix) for ix, _ in rows], dtype=np.int64)
        indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        idx = np.concatenate([ix for ix, _ in rows]).astype(np.int64) if rows else np.zeros(0, np.int64)
        w = np.concatenate([wt for _, wt in rows]).astype(np.float32) if rows else np.zeros(0, np.float32)
        return cls(indptr, idx, w, source, sampler)

    @classmethod
    def sampled(cls, n: int, sampler: str, source: str) -> Plan:
        return cls(np.zeros(n + 1, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32), [source] * n, sampler)

    def row(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        a, b = self.indptr[i], self.indptr[i + 1]
        return self.indices[a:b], self.weights[a:b]

    def apply(self, matrix: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Rows for every target from `matrix` (old rows): combinations where given, `sampler` draws elsewhere."""
        import torch

        n = len(self.indptr) - 1
        matrix = np.asarray(matrix, dtype=np.float32)
        squeeze = matrix.ndim == 1
        m2 = matrix[:, None] if squeeze else matrix
        csr = torch.sparse_csr_tensor(torch.from_numpy(self.indptr), torch.from_numpy(self.indices),
                                      torch.from_numpy(self.weights), size=(n, m2.shape[0]))
        out = (csr @ torch.from_numpy(np.ascontiguousarray(m2))).numpy() if n else np.zeros((0, m2.shape[1]), np.float32)
        if self.mean_weight is not None and n:
            ref = m2 if self.mean_ids is None else m2[self.mean_ids]
            out += self.mean_weight[:, None].astype(np.float32) * ref.mean(axis=0, dtype=np.float64).astype(np.float32)
        empty = np.flatnonzero(np.diff(self.indptr) == 0)
        if len(empty):
            out[empty] = sample_rows(m2, len(empty), self.sampler, rng)
        return out[:, 0] if squeeze else out


def sample_rows(matrix: np.ndarray, n: int, kind: str, rng: np.random.Generator) -> np.ndarray:
    """Rows drawn from an old matrix's statistics: mean, per-dimension normal (random), or full covariance (hewitt)."""
    mu = matrix.mean(axis=0)
    if kind == "mean" or matrix.shape[1] == 1:
        return np.broadcast_to(mu, (n, matrix.shape[1])).astype(np.float32)
    if kind == "random":
        return (mu + rng.standard_normal((n, matrix.shape[1])) * matrix.std(axis=0)).astype(np.float32)
    if kind == "hewitt":
        centred = (matrix - mu).astype(np.float64)
        cov = centred.T @ centred / max(len(matrix) - 1, 1)
        chol = np.linalg.cholesky(cov + 1e-6 * np.eye(len(cov)) * np.trace(cov) / len(cov))
        return (mu + rng.standard_normal((n, matrix.shape[1])) @ chol.T).astype(np.float32)
    raise UsageError(f"unknown sampler {kind!r}")


# --------------------------------------------------------------------------------------------------------- context
@dataclass
class Context:
    """What a method sees: both tokenizers, the old rows, the target new ids, and helpers shared by methods."""

    old_tok: object
    new_tok: object
    old_in: np.ndarray  # [V_old, d] input embeddings
    targets: np.ndarray  # new ids to fill
    params: dict = field(default_factory=dict)
    seed: int = 0
    banned_old: np.ndarray | None = None  # bool [V_old]: old ids methods may not use (hold-out evaluation)
    model_key: str = "model"  # names the old model in cache keys
    old_out: np.ndarray | None = None  # [V_old, d] untied output rows (None when tied)

    @cached_property
    def rng(self) -> np.random.Generator:
        return np.random.default_rng(self.seed)

    @cached_property
    def usable_old(self) -> np.ndarray:
        """Old ids a method may combine: real (non-special, non-empty) tokens that exist in the matrix."""
        ok = np.zeros(len(self.old_in), dtype=bool)
        lengths = np.array([len(b) for b in self.old_tok.all_token_bytes()[: len(self.old_in)]])
        ok[: len(lengths)] = lengths > 0
        ok[list(i for i in self.old_tok.special_ids if i < len(ok))] = False
        if self.banned_old is not None:
            ok &= ~self.banned_old
        return ok

    @cached_property
    def shared_old(self) -> np.ndarray:
        """Usable old ids whose exact bytes are also a token of the new vocabulary (the overlap FOCUS and OMP
        combine: rows that exist on both sides of the transplant)."""
        new_bytes = set(self.new_tok.all_token_bytes())
        old_bytes = self.old_tok.all_token_bytes()[: len(self.old_in)]
        ok = self.usable_old.copy()
        ok[: len(old_bytes)] &= np.fromiter((b in new_bytes for b in old_bytes), dtype=bool, count=len(old_bytes))
        return ok

    @cached_property
    def target_bytes(self) -> list[bytes]:
        return [self.new_tok.token_bytes(int(t)) for t in self.targets]

    @cached_property
    def target_strings(self) -> list[str]:
        return [b.decode("utf-8", errors="replace") for b in self.target_bytes]

    @cached_property
    def old_strings(self) -> list[str]:
        return [b.decode("utf-8", errors="replace") for b in self.old_tok.all_token_bytes()[: len(self.old_in)]]

    @cached_property
    def pieces(self) -> list[np.ndarray]:
        """Each target's bytes split by the old tokenizer (old ids, never banned ones)."""
        return split_with_old(self.old_tok, self.target_bytes, self.usable_old)


def split_with_old(old_tok, items: list[bytes], usable: np.ndarray) -> list[np.ndarray]:
    """Split byte strings into old tokens: the old tokenizer's own encoding when it reproduces the bytes exactly and
    uses only usable ids, else greedy longest match over the usable old tokens' bytes (partial UTF-8, hold-outs)."""
    all_bytes = old_tok.all_token_bytes()
    texts, pos = [], []
    for i, b in enumerate(items):
        try:
            texts.append(b.decode("utf-8"))
            pos.append(i)
        except UnicodeDecodeError:
            pass
    out: list[np.ndarray | None] = [None] * len(items)
    for i, ids in zip(pos, old_tok.encode_batch(texts) if texts else []):
        if ids and all(j < len(usable) and usable[j] for j in ids) and b"".join(all_bytes[j] for j in ids) == items[i]:
            out[i] = np.asarray(ids, dtype=np.int64)
    missing = [i for i, o in enumerate(out) if o is None]
    if missing:
        lookup: dict[bytes, int] = {}
        for j in range(len(usable)):
            if usable[j] and all_bytes[j] not in lookup:
                lookup[all_bytes[j]] = j
        longest = max((len(b) for b in lookup), default=1)
        for i in missing:
            out[i] = _greedy(items[i], lookup, longest)
    return out


def _greedy(b: bytes, lookup: dict[bytes, int], longest: int) -> np.ndarray:
    ids, k = [], 0
    while k < len(b):
        for n in range(min(longest, len(b) - k), 0, -1):
            j = lookup.get(b[k:k + n])
            if j is not None:
                ids.append(j)
                k += n
                break
        else:  # a byte no usable old token covers: skip it
            k += 1
    return np.asarray(ids, dtype=np.int64)


# -------------------------------------------------------------------------------------------------------- matching
@dataclass
class Match:
    """new id -> old id for copied tokens (-1 when the new token needs a method), plus specials bookkeeping."""

    new_to_old: np.ndarray
    kind: list[str]  # per new id: "copied" | "special" | "new"
    roles: dict[str, int | None]  # role -> new id written to the config
    added_specials: list[str]  # old special tokens appended to the new tokenizer (keep_special="old")
    warnings: list[str]
    tokenizer: object  # the new tokenizer, with the appended specials


def match_vocab(old_tok, new_tok, keep_special: str = "old", old_start: int | None = None,
                old_size: int | None = None) -> Match:
    """Match new tokens to old rows by exact bytes; specials by string, then by role. With keep_special="old" the old
    model's special tokens missing from the new vocabulary are appended to it and the config keeps the old roles."""
    if keep_special not in ("old", "new"):
        raise UsageError(f"{param('keep_special')} must be old or new, not {keep_special!r}")
    old_size = old_size or old_tok.vocab_size
    old_bytes = old_tok.all_token_bytes()
    by_bytes: dict[bytes, int] = {}
    for j in range(min(old_size, len(old_bytes))):
        b = old_bytes[j]
        if b and j not in old_tok.special_ids and b not in by_bytes:
            by_bytes[b] = j
    old_roles = dict(old_tok.roles)
    if old_start is not None:  # the token the old model starts documents with stands in for its bos
        old_roles["bos"] = old_start
    old_special_by_str = {s: i for s, i in old_tok.special_tokens.items() if i < old_size}
    warnings: list[str] = []
    added: list[str] = []
    if keep_special == "old":
        new_strings = set(new_tok.special_tokens) | {s for s in old_special_by_str if new_tok.token_to_id(s) is not None}
        added = [s for s, _ in sorted(old_special_by_str.items(), key=lambda kv: kv[1]) if s not in new_strings]
        if added:
            new_tok = _with_special_tokens(new_tok, added)
    n_new = new_tok.vocab_size
    new_to_old = np.full(n_new, -1, dtype=np.int64)
    kind = ["new"] * n_new
    new_bytes = new_tok.all_token_bytes()
    role_of_new = {i: r for r, i in new_tok.roles.items() if i is not None}
    for i in range(n_new):
        if i in new_tok.special_ids:
            kind[i] = "special"
            s = new_tok.id_to_token(i)
            if s in old_special_by_str:
                new_to_old[i] = old_special_by_str[s]
            elif role_of_new.get(i) and old_roles.get(role_of_new[i]) is not None:
                new_to_old[i] = old_roles[role_of_new[i]]
            continue
        j = by_bytes.get(new_bytes[i]) if new_bytes[i] else None
        if j is not None:
            new_to_old[i] = j
            kind[i] = "copied"
    if keep_special == "old":
        roles = {r: (new_tok.token_to_id(old_tok.id_to_token(i)) if i is not None else None) for r, i in old_tok.roles.items()}
    else:
        roles = {r: new_tok.roles.get(r) for r in ROLES}
    new_bos, old_bos = new_tok.roles.get("bos"), old_roles.get("bos")
    if new_bos is not None and old_bos is not None and new_tok.id_to_token(new_bos) != old_tok.id_to_token(old_bos):
        warnings.append(f"the new tokenizer's bos {new_tok.id_to_token(new_bos)!r} differs from the model's "
                        f"{old_tok.id_to_token(old_bos)!r}; its row is copied from {old_tok.id_to_token(old_bos)!r}")
    return Match(new_to_old, kind, roles, added, warnings, new_tok)


def _with_special_tokens(tok, strings: list[str]):
    """`tok` with `strings` appended as special tokens. The loaded tokenizer is never changed (loaders may cache it)."""
    from tokenizers import AddedToken
    from tokenizers import Tokenizer as HF

    hf = tok.hf()
    if hf is None:
        raise UsageError(f"{tok.name}: cannot add the model's special tokens to this tokenizer (use {param('keep_special')} new)")
    hf = HF.from_str(hf.to_str())
    hf.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in strings])
    added = {s: hf.token_to_id(s) for s in strings}
    if sorted(added.values()) != list(range(tok.vocab_size, tok.vocab_size + len(strings))):
        raise WorkError(f"{tok.name}: appended special tokens did not get the ids after the vocabulary")
    return WithSpecials(tok, hf, added)


class WithSpecials(Tokenizer):
    """A tokenizer plus appended special tokens. Ids, bytes, encoding and roles come from the original adapter (a
    round trip through tokenizer.json may lose details, e.g. a SentencePiece model's bos or its ▁ -> space bytes);
    the extended HF form is what gets saved. The appended specials are special tokens like the original's: plain text
    unless allowed (`allowing_special`, `allowed_special`), and then each one found in the text is its id, the text
    between encoded by the original (tiktoken's reading, as the adapters read their own specials)."""

    def __init__(self, base, hf, added: dict[str, int]):
        self._base, self._hf, self._added = base, hf, added
        self._added_by_id = {i: s for s, i in added.items()}
        self.name, self.model_type = base.name, base.model_type
        self.byte_level, self.lossless, self.byte_fallback = base.byte_level, base.lossless, base.byte_fallback
        self.special_tokens = {**base.special_tokens, **added}
        self.roles = dict(base.roles)
        self.allowed_special = base.allowed_special

    def __getattr__(self, name):  # what only the original has (its path, start ids, encoder tables): the original's
        if name.startswith("__") or name == "_base":  # copy.copy probes a bare instance: no recursion into _base
            raise AttributeError(name)
        return getattr(self._base, name)

    @property
    def vocab_size(self) -> int:
        return self._base.vocab_size + len(self._added)

    def allowing_special(self, allowed="all") -> "WithSpecials":
        view = copy.copy(self)
        view.allowed_special = self._allowed(allowed)
        view._base = self._base.allowing_special(self._base_part(view.allowed_special))
        return view

    def _base_part(self, allowed: frozenset[str]) -> frozenset[str]:
        return frozenset(t for t in allowed if t in self._base.special_tokens)

    def _plain(self, part):
        """The original's encoding of text (or bytes) that holds no allowed special token."""
        if isinstance(part, bytes):
            return self._base.allowing_special(frozenset()).encode_bytes(part)
        return self._base.encode(part, allowed_special=frozenset())

    def _frame(self) -> tuple[list[int], list[int]]:
        """The ids the original puts before and after a text with add_special_tokens (a SentencePiece bos)."""
        full, plain = self._base.encode("a", add_special_tokens=True), self._base.encode("a")
        for k in range(len(full) - len(plain) + 1):
            if full[k:k + len(plain)] == plain:
                return full[:k], full[k + len(plain):]
        return [], []

    def encode(self, text: str, add_special_tokens: bool = False, allowed_special=None) -> list[int]:
        return self.encode_batch([text], add_special_tokens, allowed_special)[0]

    def encode_batch(self, texts, add_special_tokens: bool = False, allowed_special=None) -> list[list[int]]:
        allowed = self._allowed(allowed_special)
        if not allowed & self._added.keys():
            return self._base.encode_batch(texts, add_special_tokens, self._base_part(allowed))
        lead, trail = self._frame() if add_special_tokens else ([], [])
        return [lead + self._split_special(t, allowed, self._plain) + trail for t in texts]

    def encode_arrays(self, texts, allowed_special=None):
        allowed = self._allowed(allowed_special)
        if not allowed & self._added.keys():
            return self._base.encode_arrays(texts, self._base_part(allowed))
        return super().encode_arrays(texts, allowed)

    def encode_bytes(self, data: bytes) -> list[int]:
        if not self.allowed_special & self._added.keys():
            return self._base.encode_bytes(data)
        return self._split_special(data, self.allowed_special, self._plain)

    def decode(self, ids) -> str:
        return self._base.decode(ids)

    def prepare(self, text: str) -> bytes:
        return self._base.prepare(text)

    def bpe_merges(self):
        return self._base.bpe_merges()

    def _token_bytes(self, i: int) -> bytes:
        return self._base.token_bytes(i)

    def all_token_bytes(self) -> list[bytes]:
        return list(self._base.all_token_bytes()) + [self.token_bytes(i) for i in sorted(self._added_by_id)]

    def id_to_token(self, i: int) -> str:
        return self._added_by_id.get(int(i)) or self._base.id_to_token(i)

    def token_to_id(self, s: str):
        return self._added.get(s, self._base.token_to_id(s))

    def hf(self):
        return self._hf

    def save(self, path) -> None:
        with atomic_write(path) as handle:
            handle.write(self._hf.to_str(pretty=True))


# ------------------------------------------------------------------------------------------------------- transplant
@dataclass
class Result:
    out: Path | None
    counts: dict
    manifest: dict
    seconds: float
    lm: object = None  # the transplanted model with its new tokenizer (an LM)
    targets: np.ndarray | None = None  # the new ids a method filled (what a heal trains)


MAX_PAD = 1 << 16  # embedding rows are padded to a multiple of this at most (GPU kernels want 8..128)


def check_pad(pad_to_multiple_of: int | None) -> None:
    """pad_to_multiple_of within 1..65536: a larger one would allocate that many embedding rows."""
    if pad_to_multiple_of is not None and not 1 <= pad_to_multiple_of <= MAX_PAD:
        raise UsageError(f"{param('pad_to_multiple_of')} must be between 1 and {MAX_PAD} (got {pad_to_multiple_of})")


def transplant(model: str, tokenizer: str, method: str = "tokenadapt", out: str | Path | None = None,
               keep_special: str = "old", pad_to_multiple_of: int | None = None, seed: int = 0, force: bool = False,
               params: dict | None = None, lm=None, save: bool = True, heal=None) -> Result:
    """Transplant `tokenizer` onto `model` with `method` and save a HF model folder at `out` (atomic). `lm` may pass
    the already loaded model (it is changed in place); save=False keeps the result in memory only (Result.lm).
    `heal` (a tokbench.transplant.heal.HealRequest) then trains the new rows before saving."""
    from tokbench.lm import LM, load_lm
    from tokbench.transplant.methods import get_method

    t0 = time.perf_counter()
    if out is None and save:
        raise UsageError(f"missing {param('out')} folder")
    out = Path(out) if out is not None else None
    if out is not None and out.exists() and not force:
        raise UsageError(f"{out}: already exists (use {param('force')} to replace it)")
    check_pad(pad_to_multiple_of)
    method_fn = get_method(method)
    new_tok = load_tokenizer(tokenizer)
    lm = lm or load_lm(model)
    params = dict(params or {})

    in_emb = lm.model.get_input_embeddings().weight.detach().float().numpy()
    out_layer = lm.model.get_output_embeddings()
    tied = out_layer is None or out_layer.weight.data_ptr() == lm.model.get_input_embeddings().weight.data_ptr()
    old_out = None if tied else out_layer.weight.detach().float().numpy()
    old_bias = None if out_layer is None or getattr(out_layer, "bias", None) is None else out_layer.bias.detach().float().numpy()
    start = lm.start_ids[0] if lm.start_ids else None
    match = match_vocab(lm.tokenizer, new_tok, keep_special, old_start=start, old_size=len(in_emb))
    for w in match.warnings:
        status(f"warning: {w}")
    new_tok = match.tokenizer

    n_new = new_tok.vocab_size
    rows = n_new if not pad_to_multiple_of else int(math.ceil(n_new / pad_to_multiple_of) * pad_to_multiple_of)
    targets = np.array([i for i in range(n_new) if match.new_to_old[i] < 0 and match.kind[i] == "new"], dtype=np.int64)
    special_unmatched = [i for i in range(n_new) if match.new_to_old[i] < 0 and match.kind[i] == "special"]
    ctx = Context(lm.tokenizer, new_tok, in_emb, targets, params=params, seed=seed, model_key=_model_key(lm),
                  old_out=old_out)
    status(f"{len(targets)} new tokens to fill with {method}; {int((match.new_to_old >= 0).sum())} copied")
    plan = method_fn(ctx)
    if len(plan.source) != len(targets):
        raise WorkError(f"method {method} returned {len(plan.source)} rows for {len(targets)} tokens")

    rng = np.random.default_rng(seed + 1)
    copied = np.flatnonzero(match.new_to_old >= 0)
    pad_ids = np.arange(n_new, rows)
    fallback_ids = np.array(special_unmatched, dtype=np.int64)

    def build(old: np.ndarray) -> np.ndarray:
        new = np.empty((rows,) + old.shape[1:], dtype=np.float32)
        new[copied] = old[match.new_to_old[copied]]
        new[targets] = plan.apply(old, rng)
        rest = np.concatenate([fallback_ids, pad_ids])
        if len(rest):
            new[rest] = old.mean(axis=0)  # unmatched specials and padding rows: the mean row, never left random
        return new

    new_in = build(in_emb)
    new_out = build(old_out) if old_out is not None else None
    new_bias = build(old_bias) if old_bias is not None else None
    _set_embeddings(lm.model, rows, new_in, new_out, new_bias)
    _update_config(lm.model, match.roles, rows)

    counts = {
        "copied": int(sum(1 for k, o in zip(match.kind, match.new_to_old) if k == "copied")),
        "special": int(sum(1 for k in match.kind if k == "special")),
        "approximated": int(sum(1 for s in plan.source if not s.startswith("fallback"))),
        "fallback": int(sum(1 for s in plan.source if s.startswith("fallback"))),
        "special_unmatched": len(special_unmatched),
        "padding": int(len(pad_ids)),
        "vocab_size": int(n_new),
        "rows": int(rows),
        "added_old_specials": len(match.added_specials),
    }
    manifest = {
        "method": method,
        "parameters": {**params, "seed": seed, "keep_special": keep_special, "pad_to_multiple_of": pad_to_multiple_of},
        "model": str(model),
        "tokenizer": str(tokenizer),
        "tied_embeddings": bool(tied),
        "output_bias": old_bias is not None,
        "counts": counts,
        "roles": {r: i for r, i in match.roles.items()},
        "added_old_specials": match.added_specials,
        "warnings": match.warnings,
        "tokens": _token_sources(new_tok, lm.tokenizer, match, targets, plan, special_unmatched),
    }
    new_lm = LM(model=lm.model, tokenizer=new_tok, folder=out or lm.folder, name=f"{model}+{method}")
    curve = None
    if heal is not None:
        from tokbench.transplant.heal import heal as heal_rows

        summary = heal_rows(new_lm, targets, heal.texts, heal.options, work=heal.work, resume=heal.resume, force=force)
        curve = summary.pop("curve")
        manifest["heal"] = {"corpus": list(heal.corpus), **summary}
    if save:
        with atomic_dir(out, force=force) as tmp:
            lm.model.save_pretrained(tmp)
            _save_tokenizer(tmp, new_tok, lm, match, keep_special)
            with open(tmp / "transplant.json", "w", encoding="utf-8") as fh:
                json.dump(manifest, fh, ensure_ascii=False, indent=1)
                fh.write("\n")
            if curve is not None:
                from tokbench.transplant.heal import write_curve

                write_curve(curve, tmp / "heal_curve.jsonl")
    if heal is not None and heal.work is not None and save:
        from tokbench.transplant.heal import remove_work

        remove_work(heal.work)  # the model is saved: its checkpoints have done their job
    return Result(out, counts, manifest, time.perf_counter() - t0, new_lm, targets)


def _model_key(lm) -> str:
    return str(Path(lm.folder).resolve())


def _set_embeddings(model, rows: int, new_in, new_out, new_bias) -> None:
    """Resize the model's embeddings (tied or untied, with the output bias) and fill every row."""
    import torch

    model.resize_token_embeddings(rows, mean_resizing=False)
    emb = model.get_input_embeddings()
    with torch.no_grad():
        emb.weight.copy_(torch.from_numpy(new_in).to(emb.weight.dtype))
        head = model.get_output_embeddings()
        if new_out is not None:
            head.weight.copy_(torch.from_numpy(new_out).to(head.weight.dtype))
        if new_bias is not None:
            if head.bias.shape[0] != rows:
                head.bias = torch.nn.Parameter(torch.zeros(rows, dtype=head.weight.dtype))
            head.bias.copy_(torch.from_numpy(new_bias).to(head.bias.dtype))
        if head is not None:
            head.out_features = rows


def _update_config(model, roles: dict, rows: int) -> None:
    cfg = model.config
    cfg.vocab_size = rows
    for r in ("bos", "eos", "pad"):
        setattr(cfg, f"{r}_token_id", roles.get(r))
    gen = getattr(model, "generation_config", None)
    if gen is not None:
        for r in ("bos", "eos", "pad"):
            setattr(gen, f"{r}_token_id", roles.get(r))


def _save_tokenizer_json(tok, path: Path) -> None:
    """Save the HF form; when the tokenizer puts a start token before text (SentencePiece's bos) and its HF form does
    not, add that to the HF form's post-processor so the saved model keeps seeing it."""
    from tokenizers import Tokenizer as HF
    from tokenizers.processors import TemplateProcessing

    hf = tok.hf()
    if hf is None:
        raise UsageError(f"{tok.name}: cannot be saved as tokenizer.json (use a tokenizer with a Hugging Face form)")
    lead = tok.encode("a", add_special_tokens=True)[:-len(tok.encode("a"))] if tok.encode("a") else []
    if lead and hf.encode("a", add_special_tokens=True).ids[: len(lead)] != lead:
        hf = HF.from_str(hf.to_str())
        names = [tok.id_to_token(i) for i in lead]
        prefix = " ".join(names)
        hf.post_processor = TemplateProcessing(single=f"{prefix} $A", pair=f"{prefix} $A {prefix} $B:1",
                                               special_tokens=list(dict(zip(names, lead)).items()))
    with atomic_write(path) as handle:
        handle.write(hf.to_str(pretty=True))


def _save_tokenizer(folder: Path, new_tok, lm, match: Match, keep_special: str) -> None:
    """tokenizer.json plus a tokenizer_config.json naming the roles, so AutoTokenizer loads the folder as is."""
    _save_tokenizer_json(new_tok, folder / "tokenizer.json")
    cfg = {"tokenizer_class": "PreTrainedTokenizerFast", "clean_up_tokenization_spaces": False}
    for r in ROLES:
        i = match.roles.get(r)
        if i is not None:
            cfg[f"{r}_token"] = new_tok.id_to_token(i)
    old_cfg = Path(lm.folder) / "tokenizer_config.json"
    if keep_special == "old" and old_cfg.exists():
        data = json.loads(old_cfg.read_text(encoding="utf-8"))
        for key in ("chat_template", "model_max_length"):
            if key in data:
                cfg[key] = data[key]
    (folder / "tokenizer_config.json").write_text(json.dumps(cfg, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _token_sources(new_tok, old_tok, match: Match, targets, plan: Plan, special_unmatched) -> list[dict]:
    """One record per new id: where its row came from."""
    out: list[dict] = []
    target_pos = {int(t): k for k, t in enumerate(targets)}
    unmatched = set(special_unmatched)
    for i in range(len(match.new_to_old)):
        rec = {"id": i, "token": new_tok.id_to_token(i)}
        j = int(match.new_to_old[i])
        if j >= 0:
            rec.update(source="special" if match.kind[i] == "special" else "copied", old_id=j)
        elif i in unmatched:
            rec.update(source="fallback:mean")
        else:
            k = target_pos[i]
            ids, w = plan.row(k)
            rec["source"] = plan.source[k]
            if len(ids):
                rec["from"] = [int(x) for x in ids]
                rec["weights"] = [round(float(x), 4) for x in w]
            if plan.mean_weight is not None and plan.mean_weight[k] != 0:
                rec["mean_weight"] = round(float(plan.mean_weight[k]), 4)  # times the mean of the plan's mean rows
        out.append(rec)
    return out
