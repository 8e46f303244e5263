"""ZeTT-style hypernetwork: predict a new token's embedding from the old tokenizer's split of its bytes.

Residual form (as tokenkit): e = mean(E_old[pieces]) + f(pieces), where f is a small transformer over the (at most
`max_pieces`) pieces' old rows, read out at the first position, then an MLP whose last layer starts at zero. So an
untrained hypernetwork *is* subword-mean, and training can only move away from it where that lowers the loss. A token
the old tokenizer keeps whole (one piece) gets its old row unchanged, as a shared token would in a transplant. For
untied models a piece's feature is its input and output rows concatenated, and both rows are predicted.

The module holds only the learned weights; the old embedding matrix is an input, so a saved hypernetwork is small and
is checked against the model it was trained for (shape and a fingerprint of the matrix).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from tokbench.errors import InputError, UsageError

WEIGHTS = "hypernet.safetensors"
CONFIG = "config.json"


@dataclass
class HyperNetConfig:
    """Shape of a hypernetwork and the model it belongs to."""

    dim: int  # the LM's embedding size
    tied: bool  # False: features and predictions are [input row, output row]
    max_pieces: int = 8
    layers: int = 2
    width: int = 256
    heads: int = 4
    vocab_rows: int = 0  # rows of the old embedding matrix (checked on load)
    fingerprint: str = ""  # sha256 prefix of the old matrices (checked on load)
    model: str = ""  # the model spec it was trained for (informative)

    @property
    def features(self) -> int:
        return self.dim if self.tied else 2 * self.dim


def _torch():
    import torch

    return torch


def build(config: HyperNetConfig, scale: float, seed: int = 0):
    """A fresh hypernetwork (torch module) with its correction's last layer at zero."""
    torch = _torch()
    nn = torch.nn

    class HyperNet(nn.Module):
        """f(pieces): project each piece's old row(s), add a position, encode, read out at position 0, MLP to rows."""

        def __init__(self, cfg: HyperNetConfig, scale: float):
            super().__init__()
            self.cfg = cfg
            self.register_buffer("scale", torch.tensor(float(scale)))  # global std of the old rows: unit-ish inputs
            self.inp = nn.Linear(cfg.features, cfg.width)
            self.pos = nn.Parameter(torch.zeros(cfg.max_pieces, cfg.width))
            if cfg.layers > 0:
                layer = nn.TransformerEncoderLayer(cfg.width, cfg.heads, dim_feedforward=2 * cfg.width, dropout=0.0,
                                                   activation="gelu", batch_first=True, norm_first=True)
                self.encoder = nn.TransformerEncoder(layer, cfg.layers, enable_nested_tensor=False)
            else:
                self.encoder = None
            self.norm = nn.LayerNorm(cfg.width)
            self.hidden = nn.Linear(cfg.width, cfg.width)
            self.out = nn.Linear(cfg.width, cfg.features)
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)

        def forward(self, feats, mask):
            """feats [N, P, F] old rows of the first P pieces, mask [N, P] True where a piece is present ->
            correction [N, F] (in the old rows' units)."""
            x = self.inp(feats / self.scale) + self.pos[: feats.shape[1]]
            if self.encoder is not None:
                x = self.encoder(x, src_key_padding_mask=~mask)
                x = x[:, 0]
            else:
                m = mask.unsqueeze(-1).to(x.dtype)
                x = (x * m).sum(1) / m.sum(1).clamp(min=1)
            x = self.out(torch.nn.functional.gelu(self.hidden(self.norm(x))))
            return x * self.scale

    torch.manual_seed(seed)
    return HyperNet(config, scale)


# -------------------------------------------------------------------------------------------------- decomposition
class Pieces:
    """Old-tokenizer splits of byte strings, cached, and the old matrices they index.

    `split` is the transplant's own (`split_with_old` over the usable old ids), so subword-mean and an untrained
    hypernetwork agree token for token. `held_out` splits an old token without using that token (its BPE parents, or
    the best two-way split), which is what the reconstruction (MSE) terms train on.
    """

    def __init__(self, old_tok, old_in, old_out=None):
        torch = _torch()
        self.tok = old_tok
        self.old_in = torch.as_tensor(np.asarray(old_in, dtype=np.float32))
        self.old_out = None if old_out is None else torch.as_tensor(np.asarray(old_out, dtype=np.float32))
        rows = len(self.old_in)
        self.feats = self.old_in if self.old_out is None else torch.cat([self.old_in, self.old_out], dim=1)
        all_bytes = old_tok.all_token_bytes()[:rows]
        usable = np.zeros(rows, dtype=bool)
        usable[: len(all_bytes)] = [len(b) > 0 for b in all_bytes]
        usable[[i for i in old_tok.special_ids if i < rows]] = False
        self.usable = usable
        self.old_bytes = all_bytes
        self.by_bytes: dict[bytes, int] = {}
        for j in np.flatnonzero(usable):
            self.by_bytes.setdefault(all_bytes[j], int(j))
        self._cache: dict[bytes, np.ndarray] = {}
        self._parents: dict[int, tuple[int, int]] | None = None

    def split(self, items: list[bytes]) -> list[np.ndarray]:
        from tokbench.transplant.core import split_with_old

        todo = list(dict.fromkeys(b for b in items if b not in self._cache))
        if todo:
            for b, ids in zip(todo, split_with_old(self.tok, todo, self.usable)):
                self._cache[b] = np.asarray(ids, dtype=np.int64)
        return [self._cache[b] for b in items]

    def held_out(self, old_ids: list[int]) -> list[np.ndarray]:
        """A split of each old token into >= 2 other old tokens (empty when it has a single byte)."""
        if self._parents is None:
            merges = self.tok.bpe_merges() or []
            self._parents = {m: (a, b) for a, b, m in merges}
        out = []
        for t in old_ids:
            pair = self._parents.get(int(t))
            if pair is not None and self.usable[list(pair)].all():
                out.append(np.asarray(pair, dtype=np.int64))
                continue
            data = self.old_bytes[int(t)]
            best = None
            for k in range(1, len(data)):
                a, b = self.split([data[:k], data[k:]])
                if len(a) and len(b) and (best is None or len(a) + len(b) < len(best)):
                    best = np.concatenate([a, b])
            out.append(best if best is not None else np.zeros(0, np.int64))
        return out


def pack(pieces: list[np.ndarray]):
    """Pad splits into ids [N, L] (L = longest split) and a mask; empty splits become one masked slot."""
    torch = _torch()
    width = max([len(p) for p in pieces] + [1])
    ids = np.zeros((len(pieces), width), dtype=np.int64)
    mask = np.zeros((len(pieces), width), dtype=bool)
    for r, p in enumerate(pieces):
        ids[r, : len(p)] = p
        mask[r, : len(p)] = True
    return torch.from_numpy(ids), torch.from_numpy(mask)


def predict(net, feats, pieces: list[np.ndarray]):
    """Predicted rows [N, F] (F = features) for splits `pieces` over the old feature matrix `feats` [V, F].

    mean over all pieces (exactly subword-mean) + the net's correction from the first `max_pieces` pieces, applied only
    to tokens of two or more pieces. A token without pieces gets the mean old row."""
    torch = _torch()
    if not pieces:
        return feats.new_zeros((0, feats.shape[1]))
    ids, mask = pack(pieces)
    rows = feats[ids] * mask.unsqueeze(-1)
    count = mask.sum(1, keepdim=True)
    base = rows.sum(1) / count.clamp(min=1)
    empty = count[:, 0] == 0
    if empty.any():
        base = torch.where(empty.unsqueeze(1), feats.mean(0, keepdim=True), base)
    multi = (count[:, 0] >= 2).nonzero()[:, 0]
    if len(multi) == 0:
        return base
    p = net.cfg.max_pieces
    corr = net(rows[multi, :p], mask[multi, :p])
    return base.index_add(0, multi, corr)


# ------------------------------------------------------------------------------------------------------- save/load
def fingerprint(old_in, old_out=None) -> str:
    """sha256 prefix of the old matrices: a hypernetwork only makes sense with the rows it was trained on."""
    h = hashlib.sha256()
    for m in (old_in, old_out):
        if m is not None:
            a = np.ascontiguousarray(np.asarray(m, dtype=np.float32))
            h.update(str(a.shape).encode())
            h.update(a[:: max(1, len(a) // 512)].tobytes())
    return h.hexdigest()[:16]


def save(net, folder: Path, extra: dict | None = None) -> None:
    """Write the weights (safetensors) and config.json into an existing folder, each atomically."""
    from safetensors.torch import save as st_save

    from tokbench.io import atomic_write

    state = {k: v.detach().contiguous() for k, v in net.state_dict().items()}
    with atomic_write(Path(folder) / WEIGHTS, "wb") as fh:
        fh.write(st_save(state))
    meta = {"hypernet": asdict(net.cfg), **(extra or {})}
    with atomic_write(Path(folder) / CONFIG) as fh:
        fh.write(json.dumps(meta, indent=1, sort_keys=True) + "\n")


def load(folder: str | Path, old_in=None, old_out=None):
    """Load a hypernetwork folder; with the old matrices, check they are the ones it was trained for."""
    from safetensors.torch import load as st_load

    folder = Path(folder)
    if not (folder / CONFIG).is_file() or not (folder / WEIGHTS).is_file():
        raise InputError(f"{folder}: not a hypernetwork folder (needs {CONFIG} and {WEIGHTS}; "
                         f"train one with `tokbench hypernet train`)")
    try:
        meta = json.loads((folder / CONFIG).read_text(encoding="utf-8"))
        cfg = HyperNetConfig(**meta["hypernet"])
        state = st_load((folder / WEIGHTS).read_bytes())
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{folder}: unreadable hypernetwork ({exc})") from None
    if old_in is not None:
        check_matrices(cfg, folder, old_in, old_out)
    net = build(cfg, float(state["scale"]))
    try:
        net.load_state_dict(state)
    except RuntimeError as exc:
        raise InputError(f"{folder}: weights do not match its config ({str(exc).splitlines()[0]})") from None
    net.eval()
    return net, meta


def check_matrices(cfg: HyperNetConfig, folder, old_in, old_out=None) -> None:
    """UsageError unless these are the embedding matrices the hypernetwork was trained on."""
    tied = old_out is None
    if tied != cfg.tied or len(old_in) != cfg.vocab_rows or np.shape(old_in)[1] != cfg.dim:
        raise UsageError(f"{folder}: hypernetwork was trained for a model with {cfg.vocab_rows} x {cfg.dim} "
                         f"{'tied' if cfg.tied else 'untied'} embeddings, not {len(old_in)} x {np.shape(old_in)[1]} "
                         f"{'tied' if tied else 'untied'}")
    if cfg.fingerprint and fingerprint(old_in, old_out) != cfg.fingerprint:
        raise UsageError(f"{folder}: hypernetwork was trained for other embeddings ({cfg.model or 'another model'})")


def predict_rows(net, old_tok, old_in, old_out, items: list[bytes], batch: int = 4096):
    """Input rows [N, d] and output rows ([N, d] or None when tied) for byte strings `items` (no gradients)."""
    torch = _torch()
    pieces = Pieces(old_tok, old_in, old_out)
    splits = pieces.split(items)
    outs = []
    net.eval()  # the encoder's inference path: the same numbers however the net was obtained
    with torch.no_grad():
        for c in range(0, len(splits), batch):
            outs.append(predict(net, pieces.feats, splits[c:c + batch]))
    rows = torch.cat(outs).numpy() if outs else np.zeros((0, pieces.feats.shape[1]), np.float32)
    d = np.shape(old_in)[1]
    return (rows, None) if old_out is None else (rows[:, :d], rows[:, d:])
