"""tiktoken backend: mergeable ranks, a split pattern and special tokens, from a descriptor (see `formats`)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

from tokbench.tokenizer import bytelevel, formats
from tokbench.tokenizer.base import Tokenizer, roles_from_specials


class TiktokenTokenizer(Tokenizer):
    """A tiktoken `Encoding` from a checked descriptor (`formats.read_descriptor`): ranks, pattern, specials, id offset."""

    model_type = "bpe"

    def __init__(self, descriptor: dict, name: str = "", where: str | Path = ""):
        self.name = name or descriptor["name"]
        ranks = formats.read_tiktoken_ranks(descriptor["ranks"])
        self._enc = formats.encoding(descriptor, ranks, where or descriptor["ranks"])  # final ids: rank + id_offset
        self._offset = descriptor["id_offset"]
        specials = {k: int(v) for k, v in descriptor["special_tokens"].items()}
        self.special_tokens = specials
        self._special_by_id = {v: k for k, v in specials.items()}
        self._normalizer = descriptor.get("normalizer")
        self.roles = roles_from_specials(specials, _explicit=True, **descriptor["roles"])
        self.byte_level = self._normalizer in (None, "NFC")
        self.lossless = self.byte_level
        self._n = max([self._enc.max_token_value + 1] + [v + 1 for v in specials.values()])
        self._n = max(self._n, int(descriptor.get("vocab_size", 0)))
        self._ranks = ranks

    @property
    def vocab_size(self) -> int:
        return self._n

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        ids = self._enc.encode_ordinary(formats.normalize(text, self._normalizer))
        if add_special_tokens and self.roles.get("bos") is not None:
            ids = [self.roles["bos"], *ids]
        return ids

    def encode_batch(self, texts: Sequence[str], add_special_tokens: bool = False) -> list[list[int]]:
        if add_special_tokens or self._normalizer:
            return [self.encode(t, add_special_tokens) for t in texts]
        return self._enc.encode_ordinary_batch(list(texts), num_threads=1)

    def decode(self, ids: Sequence[int]) -> str:
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    def token_bytes(self, token_id: int) -> bytes:
        token_id = int(token_id)
        if token_id in self._special_by_id:
            return b""
        try:
            return self._enc.decode_single_token_bytes(token_id)
        except KeyError:
            return b""

    def id_to_token(self, token_id: int) -> str:
        if token_id in self._special_by_id:
            return self._special_by_id[token_id]
        return bytelevel.to_chars(self.token_bytes(token_id))

    def token_to_id(self, token: str) -> int | None:
        if token in self.special_tokens:
            return self.special_tokens[token]
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

