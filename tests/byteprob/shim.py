"""Minimal stand-ins for the lead's tokenizer adapter (tests only), built on Hugging Face `tokenizers`."""

from __future__ import annotations

import json

from tokenizers import Tokenizer

from tokbench.tokenizer.bytelevel import char_to_byte


class HFShim:
    """encode / token_bytes / bpe_merges / hf over a tokenizers.Tokenizer (byte-level or plain-character BPE)."""

    def __init__(self, hf: Tokenizer, name: str = "shim"):
        self._hf = hf
        self.name = name
        j = json.loads(hf.to_str())
        self._json = j
        self.vocab_size = hf.get_vocab_size()
        self.model_type = j["model"]["type"].lower()
        pre = json.dumps(j.get("pre_tokenizer"))
        self.byte_level = "ByteLevel" in pre
        self.special_ids = frozenset(a["id"] for a in j.get("added_tokens", []) if a.get("special"))
        self.special_tokens = {a["content"]: a["id"] for a in j.get("added_tokens", []) if a.get("special")}
        self._tb = None

    def encode(self, text, add_special_tokens=False):
        return self._hf.encode(text, add_special_tokens=add_special_tokens).ids if text else []

    def encode_bytes(self, data):
        """The adapter's verb for UTF-8 bytes (ByteLM asks only for those)."""
        return self.encode(data.decode("utf-8"))

    def decode(self, ids):
        return self._hf.decode(ids)

    def token_bytes(self, i):
        return self.all_token_bytes()[i]

    def all_token_bytes(self):
        if self._tb is None:
            dec = char_to_byte()
            out = []
            for i in range(self.vocab_size):
                s = self._hf.id_to_token(i)
                if s is None or i in self.special_ids:
                    out.append(b"")
                elif self.byte_level:
                    out.append(bytes(dec[c] for c in s))
                else:
                    out.append(s.encode("utf-8"))
            self._tb = out
        return self._tb

    def prepare(self, text):
        return text.encode("utf-8")

    def bpe_merges(self):
        if self.model_type != "bpe":
            return None
        vocab = self._json["model"]["vocab"]
        out = []
        for m in self._json["model"]["merges"]:
            a, b = m.split(" ", 1) if isinstance(m, str) else m
            out.append((vocab[a], vocab[b], vocab[a + b]))
        return out

    def hf(self):
        return self._hf


class LPMTokenizer:
    """Longest-prefix-match (greedy, WordPiece-like without ##) tokenizer over a fixed vocabulary; no merges."""

    model_type = "wordpiece"
    byte_level = True

    def __init__(self, pieces: list[str], eos: str = "</s>"):
        self.pieces = list(pieces) + [eos]
        self.vocab_size = len(self.pieces)
        self.eos_id = len(pieces)
        self.special_ids = frozenset({self.eos_id})
        self.name = "lpm"
        self._by = {p: i for i, p in enumerate(pieces)}
        self._maxlen = max(len(p) for p in pieces)

    def encode(self, text, add_special_tokens=False):
        out, i = [], 0
        while i < len(text):
            for n in range(min(self._maxlen, len(text) - i), 0, -1):
                t = self._by.get(text[i:i + n])
                if t is not None:
                    out.append(t)
                    i += n
                    break
            else:
                raise ValueError(f"no piece for {text[i:]!r}")
        return out

    def encode_bytes(self, data):
        return self.encode(data.decode("utf-8"))

    def all_token_bytes(self):
        return [b"" if i == self.eos_id else p.encode() for i, p in enumerate(self.pieces)]

    def token_bytes(self, i):
        return self.all_token_bytes()[i]

    def prepare(self, text):
        return text.encode("utf-8")

    def bpe_merges(self):
        return None

    def hf(self):
        return None


def load_npm(name: str) -> HFShim:
    import glob

    path = glob.glob(f"/work/main/.cache/npm/tokenizer-{name}/package/models/tokenizer.json")[0]
    return HFShim(Tokenizer.from_file(path), name)
