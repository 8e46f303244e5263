"""tiktoken-style tokenizers: mergeable ranks, a split pattern and special tokens, from a descriptor (see `formats`).

Encoding runs on tokbench's numba encoder (`fast_bpe.BPEEncoder`, the pattern's scanner where one splits alike), whose
ids equal tiktoken's `encode` on the same descriptor; tiktoken's own `Encoding` is built only where that encoder does
not apply (an unusual normal form), and for `bpe_merges`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tokbench.errors import InputError
from tokbench.tokenizer import bytelevel, formats
from tokbench.tokenizer.base import Tokenizer, roles_from_specials


class TiktokenTokenizer(Tokenizer):
    """A tiktoken `Encoding` from a checked descriptor (`formats.read_descriptor`): ranks, pattern, specials, id offset."""

    model_type = "bpe"

    def __init__(self, descriptor: dict, name: str = "", where: str | Path = ""):
        from tokbench.tokenizer.fast_bpe import BPEEncoder, Unsupported, rank_file_tables

        self.name = name or descriptor["name"]
        self._desc, self._where = descriptor, where or descriptor["ranks"]
        self._offset = descriptor["id_offset"]
        specials = {k: int(v) for k, v in descriptor["special_tokens"].items()}
        self._added = {k: int(v) for k, v in descriptor["added_tokens"].items()}  # not special: always matched
        self.special_tokens = specials
        self._special_by_id = {v: k for k, v in specials.items()}
        self._added_by_id = {v: k for k, v in self._added.items()}
        self._normalizer = descriptor.get("normalizer")
        self.roles = roles_from_specials(specials, _explicit=True, **descriptor["roles"])
        self.byte_level = self._normalizer in (None, "NFC")
        self.lossless = self.byte_level
        tables = rank_file_tables(descriptor["ranks"], self._offset)  # cached per ranks file: no numba when cached
        self._pool, self._offs = tables.pool, tables.offs  # token id i's bytes: pool[offs[i]:offs[i+1]]
        ids = [v + 1 for v in (*specials.values(), *self._added.values())]
        self._n = max([len(self._offs) - 1, *ids, int(descriptor.get("vocab_size", 0))])
        added = {t: (i, True) for t, i in specials.items()} | {t: (i, False) for t, i in self._added.items()}
        clash = sorted(i for i, _ in added.values() if i < len(self._offs) - 1 and self._offs[i + 1] > self._offs[i])
        if clash:
            raise InputError(f"{self._where}: special token ids collide with ranks (e.g. {clash[0]})")
        try:
            self._fast = BPEEncoder.from_rank_tables(tables, descriptor["pattern"], self._normalizer, added)
        except Unsupported:
            self._fast = None
        if self._fast is None or self._fast.scanner is None:
            self._enc  # tiktoken checks the pattern now, not at the first encode

    @property
    def vocab_size(self) -> int:
        return self._n

    @functools.cached_property
    def _enc(self):
        """tiktoken's own `Encoding` (final ids: rank + id_offset), for where tokbench's encoder does not apply."""
        return formats.encoding(self._desc, self._ranks, self._where)

    @functools.cached_property
    def _ranks(self) -> dict[bytes, int]:
        return formats.read_tiktoken_ranks(self._desc["ranks"])

    def encode(self, text: str, add_special_tokens: bool = False, allowed_special=None) -> list[int]:
        return self.encode_batch([text], add_special_tokens, allowed_special)[0]

    def encode_batch(self, texts: Sequence[str], add_special_tokens: bool = False,
                     allowed_special=None) -> list[list[int]]:
        bos = [self.roles["bos"]] if add_special_tokens and self.roles.get("bos") is not None else []
        if self._fast is None:
            allowed = set(self._allowed(allowed_special)) | set(self._added)
            return [bos + self._enc.encode(formats.normalize(t, self._normalizer), allowed_special=allowed,
                                           disallowed_special=()) for t in texts]
        flat, offsets = self.encode_arrays(texts, allowed_special)
        ids = flat.tolist()
        return [bos + ids[offsets[i]:offsets[i + 1]] for i in range(len(texts))]

    def encode_arrays(self, texts: Sequence[str], allowed_special=None) -> tuple[np.ndarray, np.ndarray]:
        if self._fast is None:
            return super().encode_arrays(texts, allowed_special)
        return self._fast.allowing(self._allowed(allowed_special)).encode_batch(list(texts))

    def decode(self, ids: Sequence[int]) -> str:
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    def token_bytes(self, token_id: int) -> bytes:
        token_id = int(token_id)
        if token_id in self._added_by_id:
            return self._added_by_id[token_id].encode("utf-8")
        if token_id in self._special_by_id:
            return self._special_bytes(token_id)
        if not 0 <= token_id < len(self._offs) - 1:
            return b""
        return self._pool[self._offs[token_id]:self._offs[token_id + 1]].tobytes()

    def id_to_token(self, token_id: int) -> str:
        token_id = int(token_id)
        if token_id in self._special_by_id:
            return self._special_by_id[token_id]
        if token_id in self._added_by_id:
            return self._added_by_id[token_id]
        return bytelevel.to_chars(self.token_bytes(token_id))

    def token_to_id(self, token: str) -> int | None:
        if token in self.special_tokens:
            return self.special_tokens[token]
        if token in self._added:
            return self._added[token]
        raw = bytelevel.to_bytes(token)
        rank = self._ranks.get(token.encode("utf-8") if raw is None else raw)
        return None if rank is None else rank + self._offset

    def prepare(self, text: str) -> bytes:
        return formats.normalize(text, self._normalizer).encode("utf-8")

    @functools.cache
    def bpe_merges(self) -> list[tuple[int, int, int]]:
        """Recover each multi-byte token's merge by running BPE on its bytes with the ranks below its own."""
        merges = []
        ranks = self._ranks
        for token, rank in sorted(ranks.items(), key=lambda kv: kv[1]):
            if len(token) < 2:
                continue
            parts = _bpe_split(token, ranks, rank)
            if len(parts) == 2:
                merges.append((ranks[parts[0]] + self._offset, ranks[parts[1]] + self._offset, rank + self._offset))
        return merges


def _bpe_split(token: bytes, ranks: dict[bytes, int], max_rank: int) -> list[bytes]:
    parts = [bytes([b]) for b in token]
    while len(parts) > 1:
        best, best_i = None, -1
        for i in range(len(parts) - 1):
            r = ranks.get(parts[i] + parts[i + 1])
            if r is not None and r < max_rank and (best is None or r < best):
                best, best_i = r, i
        if best is None:
            break
        parts[best_i:best_i + 2] = [parts[best_i] + parts[best_i + 1]]
    return parts
