"""The `Tokenizer` interface every backend implements (after tiktoken's `Encoding`).

Whatever the backend, a `Tokenizer` answers the same few verbs: encode, decode, token_bytes, vocab size, special tokens.
`token_bytes` is exact: byte-level BPE's remapped characters, SentencePiece's `▁` and `<0xNN>` pieces and tiktoken's raw
bytes all come back as the bytes the token stands for, so counts can be compared per byte across tokenizers and
byte-level probabilities can be computed.

Special-token text in the input is plain text unless asked for, as with tiktoken's `encode_ordinary`: pass
`allowed_special` ("all" or a set of texts) to the encode verbs, or take `tok.allowing_special()`, a view whose every
encode reads them as their ids (what `--allow-special` gives a command). Added tokens that are not special (Qwen's
`<|fim_prefix|>`, `special: false` in a tokenizer.json) are always one token, as `tokenizers` and transformers match them.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tokbench.errors import UsageError

SPIECE_UNDERLINE = "▁"  # SentencePiece's word-start mark (spaces are written as it)


def special_pattern(texts, raw: bool = False):
    """A `regex` pattern finding the special-token `texts` as tiktoken does: leftmost, the longest first (on bytes
    when `raw`)."""
    import regex

    order = sorted(texts, key=lambda t: (-len(t), t))
    return regex.compile(b"|".join(regex.escape(t.encode("utf-8")) for t in order) if raw else
                         "|".join(regex.escape(t) for t in order))


class Tokenizer:
    """The adapter's interface. Subclasses fill in the backend-specific verbs."""

    name: str = ""
    model_type: str = "bpe"  # bpe | unigram | wordpiece | wordlevel
    byte_level: bool = False  # concat(token_bytes(encode(x))) == x.encode() for every x
    lossless: bool = False  # decode(encode(x)) == x for text in the tokenizer's normal form
    byte_fallback: bool = False
    special_tokens: dict[str, int]
    roles: dict[str, int | None]
    allowed_special: frozenset[str] = frozenset()  # special-token texts every encode reads as their ids

    # -- the verbs every backend provides ------------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        raise NotImplementedError

    def encode(self, text: str, add_special_tokens: bool = False, allowed_special=None) -> list[int]:
        raise NotImplementedError

    def decode(self, ids: Sequence[int]) -> str:
        raise NotImplementedError

    def token_bytes(self, token_id: int) -> bytes:
        """The bytes the token stands for: a special token's only where it is allowed (`_special_bytes`)."""
        token_id = int(token_id)
        return self._special_bytes(token_id) if token_id in self.special_ids else self._token_bytes(token_id)

    def _token_bytes(self, token_id: int) -> bytes:
        """token_bytes of an id that is not a special token (backends fill this in, or override token_bytes)."""
        raise NotImplementedError

    def id_to_token(self, token_id: int) -> str:
        raise NotImplementedError

    def token_to_id(self, token: str) -> int | None:
        raise NotImplementedError

    def prepare(self, text: str) -> bytes:
        """The bytes that concat(token_bytes(encode(text))) equals: normalised text, dummy-prefix space included."""
        return text.encode("utf-8")

    # -- shared helpers ------------------------------------------------------------------------------------------
    def allowing_special(self, allowed="all") -> "Tokenizer":
        """A view of this tokenizer whose encodes read the special tokens in `allowed` ("all" or texts) as their ids;
        UsageError names a text that is not one of its special tokens."""
        getattr(self, "_fast", None)  # build a lazy encoder once, here, so the view shares it
        view = copy.copy(self)
        view.allowed_special = self._allowed(allowed)
        view.__dict__.pop("_all_token_bytes", None)  # an allowed special token stands for its text
        return view

    def _special_bytes(self, token_id: int) -> bytes:
        """A special token's bytes: its text where it is allowed (it was read from that text), else none."""
        for text in self.allowed_special:
            if self.special_tokens[text] == token_id:
                return text.encode("utf-8")
        return b""

    def _allowed(self, allowed) -> frozenset[str]:
        """`allowed_special` as a set of special-token texts (None: this tokenizer's own setting)."""
        if allowed is None:
            return self.allowed_special
        if allowed == "all":
            return frozenset(self.special_tokens)
        allowed = frozenset(allowed)
        unknown = sorted(allowed - set(self.special_tokens))
        if unknown:
            raise UsageError(f"{self.name}: {unknown[0]!r} is not one of its special tokens")
        return allowed

    def _split_special(self, text: str | bytes, allowed: frozenset[str], encode_plain) -> list[int]:
        """tiktoken's reading of allowed special tokens: each one found (leftmost, longest first) is its id, and the
        text between is encoded on its own by `encode_plain`. `text` may be bytes (for `encode_bytes`)."""
        if not allowed:
            return encode_plain(text)
        raw = isinstance(text, bytes)
        found = special_pattern(allowed, raw)
        ids: list[int] = []
        pos = 0
        for m in found.finditer(text):
            if m.start() > pos:
                ids += encode_plain(text[pos:m.start()])
            ids.append(self.special_tokens[m.group().decode("utf-8") if raw else m.group()])
            pos = m.end()
        if pos < len(text):
            ids += encode_plain(text[pos:])
        return ids

    def encode_batch(self, texts: Sequence[str], add_special_tokens: bool = False,
                     allowed_special=None) -> list[list[int]]:
        return [self.encode(t, add_special_tokens=add_special_tokens, allowed_special=allowed_special) for t in texts]

    def encode_arrays(self, texts: Sequence[str], allowed_special=None) -> tuple[np.ndarray, np.ndarray]:
        """Flat ids (int32) and offsets (int64, len(texts)+1) for a batch; fast engines override this."""
        batch = self.encode_batch(texts, allowed_special=allowed_special)
        offsets = np.zeros(len(batch) + 1, dtype=np.int64)
        np.cumsum([len(ids) for ids in batch], out=offsets[1:])
        flat = np.fromiter((i for ids in batch for i in ids), dtype=np.int32, count=int(offsets[-1]))
        return flat, offsets

    def encode_bytes(self, data: bytes) -> list[int]:
        """Ids of raw bytes for a byte-level BPE (tiktoken's `encode_bytes`, e.g. a prefix that ends inside a
        character): valid UTF-8 is encoded as text, an invalid tail as tiktoken does (`BPEEncoder.encode_bytes`)."""
        fast = getattr(self, "_fast", None)
        if not self.byte_level or fast is None:
            try:
                return self.encode(data.decode("utf-8"))
            except UnicodeDecodeError:
                raise UsageError(f"{self.name}: only a byte-level BPE encodes bytes that are not UTF-8") from None
        return fast.allowing(self.allowed_special).encode_bytes(data)

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

