"""The `Tokenizer` interface every backend implements (after tiktoken's `Encoding`).

Whatever the backend, a `Tokenizer` answers the same few verbs: encode, decode, token_bytes, vocab size, special tokens.
`token_bytes` is exact: byte-level BPE's remapped characters, SentencePiece's `▁` and `<0xNN>` pieces and tiktoken's raw
bytes all come back as the bytes the token stands for, so counts can be compared per byte across tokenizers and
byte-level probabilities can be computed.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tokbench.errors import UsageError

SPIECE_UNDERLINE = "▁"  # SentencePiece's word-start mark (spaces are written as it)


class Tokenizer:
    """The adapter's interface. Subclasses fill in the backend-specific verbs."""

    name: str = ""
    model_type: str = "bpe"  # bpe | unigram | wordpiece | wordlevel
    byte_level: bool = False  # concat(token_bytes(encode(x))) == x.encode() for every x
    lossless: bool = False  # decode(encode(x)) == x for text in the tokenizer's normal form
    byte_fallback: bool = False
    special_tokens: dict[str, int]
    roles: dict[str, int | None]

    # -- the verbs every backend provides ------------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        raise NotImplementedError

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        raise NotImplementedError

    def decode(self, ids: Sequence[int]) -> str:
        raise NotImplementedError

    def token_bytes(self, token_id: int) -> bytes:
        raise NotImplementedError

    def id_to_token(self, token_id: int) -> str:
        raise NotImplementedError

    def token_to_id(self, token: str) -> int | None:
        raise NotImplementedError

    def prepare(self, text: str) -> bytes:
        """The bytes that concat(token_bytes(encode(text))) equals: normalised text, dummy-prefix space included."""
        return text.encode("utf-8")

    # -- shared helpers ------------------------------------------------------------------------------------------
    def encode_batch(self, texts: Sequence[str], add_special_tokens: bool = False) -> list[list[int]]:
        return [self.encode(t, add_special_tokens=add_special_tokens) for t in texts]

    def encode_arrays(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Flat ids (int32) and offsets (int64, len(texts)+1) for a batch; fast engines override this."""
        batch = self.encode_batch(texts)
        offsets = np.zeros(len(batch) + 1, dtype=np.int64)
        np.cumsum([len(ids) for ids in batch], out=offsets[1:])
        flat = np.fromiter((i for ids in batch for i in ids), dtype=np.int32, count=int(offsets[-1]))
        return flat, offsets

    def count(self, text: str) -> int:
        return len(self.encode(text))

    @property
    def special_ids(self) -> frozenset[int]:
        return frozenset(self.special_tokens.values())

    @functools.cached_property
    def _all_token_bytes(self) -> list[bytes]:
        return [self.token_bytes(i) for i in range(self.vocab_size)]

    def all_token_bytes(self) -> list[bytes]:
        """token_bytes for every id (index = id), computed once."""
        return self._all_token_bytes

    def decode_bytes(self, ids: Sequence[int]) -> bytes:
        return b"".join(self.token_bytes(i) for i in ids)

    def bpe_merges(self) -> list[tuple[int, int, int]] | None:
        """(left_id, right_id, merged_id) in rank order for BPE models, else None."""
        return None

    def hf(self):
        """The underlying `tokenizers.Tokenizer`, where there is one (used to save)."""
        return None

    def save(self, path: str | Path) -> None:
        from tokbench.io import atomic_write

        hf = self.hf()
        if hf is None:
            raise UsageError(f"{self.name}: cannot be saved as tokenizer.json (no Hugging Face form)")
        with atomic_write(path) as handle:
            handle.write(hf.to_str(pretty=True))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} vocab={self.vocab_size} {self.model_type}>"


def roles_from_specials(specials: dict[str, int], **known: str | None) -> dict[str, int | None]:
    """Map bos/eos/pad/unk to ids: a role given explicitly (even as None) wins over well-known spellings."""
    guesses = {
        "bos": ["<s>", "<|begin_of_text|>", "<|endoftext|>", "[CLS]", "<bos>", "<|im_start|>"],
        "eos": ["</s>", "<|end_of_text|>", "<|endoftext|>", "[SEP]", "<eos>", "<|im_end|>"],
        "pad": ["<pad>", "[PAD]", "<|finetune_right_pad_id|>", "<|pad|>"],
        "unk": ["<unk>", "[UNK]"],
    }
    roles: dict[str, int | None] = {}
    for role, names in guesses.items():
        if role in known and known[role] is None and known.get("_explicit"):
            roles[role] = None
            continue
        name = known.get(role)
        candidates = [name] if name else names
        roles[role] = next((specials[c] for c in candidates if c in specials), None)
    return roles

