"""A minimal stand-in for `tokbench.tokenizer.load_tokenizer` (HF tokenizer.json and SentencePiece .model only), used
until the lead's adapter is merged. Same verbs as the shared Tokenizer API that transplant and lm use."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from functools import cached_property
from pathlib import Path

from tokenizers import Tokenizer as HFTokenizer

from tokbench.transplant._compat import InputError

_BYTE_TOKEN = re.compile(r"^<0x([0-9A-Fa-f]{2})>$")


def _bytes_to_unicode() -> dict[str, int]:
    """GPT-2's printable stand-ins for bytes, inverted: char -> byte."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


_GPT2 = _bytes_to_unicode()
_ROLE_NAMES = {
    "bos": ["<s>", "<|begin_of_text|>", "<bos>", "[CLS]", "<|endoftext|>"],
    "eos": ["</s>", "<|end_of_text|>", "<eos>", "[SEP]", "<|endoftext|>"],
    "pad": ["<pad>", "[PAD]", "<|pad|>", "<|finetune_right_pad_id|>"],
    "unk": ["<unk>", "[UNK]"],
}


class ShimTokenizer:
    def __init__(self, hf: HFTokenizer, name: str, roles: dict | None = None):
        self._hf = hf
        self.name = name
        spec = json.loads(hf.to_str())
        self.model_type = spec["model"]["type"].lower()
        text = json.dumps([spec.get("pre_tokenizer"), spec.get("decoder")])
        self.byte_level = '"ByteLevel"' in text
        self._wordpiece = self.model_type == "wordpiece"
        self.vocab_size = hf.get_vocab_size(with_added_tokens=True)
        self.special_tokens = {t.content: i for i, t in hf.get_added_tokens_decoder().items() if t.special}
        self.special_ids = frozenset(self.special_tokens.values())
        vocab = hf.get_vocab(with_added_tokens=True)
        guessed = {role: next((vocab[n] for n in names if n in vocab), None) for role, names in _ROLE_NAMES.items()}
        self.roles = {**guessed, **(roles or {})}
        self.lossless = self.byte_level

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        return self._hf.encode(text, add_special_tokens=add_special_tokens).ids

    def encode_batch(self, texts: list[str], add_special_tokens: bool = False) -> list[list[int]]:
        return [e.ids for e in self._hf.encode_batch(list(texts), add_special_tokens=add_special_tokens)]

    def decode(self, ids) -> str:
        return self._hf.decode(list(ids), skip_special_tokens=False)

    def id_to_token(self, i: int) -> str:
        return self._hf.id_to_token(i)

    def token_to_id(self, s: str):
        return self._hf.token_to_id(s)

    def token_bytes(self, i: int) -> bytes:
        return self.all_token_bytes()[i]

    @cached_property
    def _all_bytes(self) -> list[bytes]:
        out = []
        for i in range(self.vocab_size):
            tok = self._hf.id_to_token(i)
            if tok is None or i in self.special_ids:
                out.append(b"")
            elif self.byte_level and all(c in _GPT2 for c in tok):
                out.append(bytes(_GPT2[c] for c in tok))
            elif m := _BYTE_TOKEN.match(tok):
                out.append(bytes([int(m.group(1), 16)]))
            elif self._wordpiece:
                out.append(tok[2:].encode() if tok.startswith("##") else tok.encode())
            else:
                out.append(tok.replace("▁", " ").encode())
        return out

    def all_token_bytes(self) -> list[bytes]:
        return self._all_bytes

    def prepare(self, text: str) -> bytes:
        return b"".join(self.token_bytes(i) for i in self.encode(text))

    def bpe_merges(self):
        return None

    def hf(self) -> HFTokenizer:
        return self._hf

    def save(self, path) -> None:
        self._hf.save(str(path))


def _roles_from_config(folder: Path, hf: HFTokenizer) -> dict:
    cfg = folder / "tokenizer_config.json"
    if not cfg.exists():
        return {}
    data = json.loads(cfg.read_text())
    out = {}
    for role in ("bos", "eos", "pad", "unk"):
        tok = data.get(f"{role}_token")
        if isinstance(tok, dict):
            tok = tok.get("content")
        if tok is not None:
            out[role] = hf.token_to_id(tok)
    return out


def load_tokenizer(spec) -> ShimTokenizer:
    spec = str(spec)
    if spec == "smollm2":
        from tokbench.lm import smollm2_folder

        spec = str(smollm2_folder())
    elif spec == "mistral-v1":
        import importlib.util

        root = Path(importlib.util.find_spec("mistral_common").submodule_search_locations[0])
        spec = str(root / "data" / "tokenizer.model.v1")
    path = Path(spec)
    if not path.exists():
        raise InputError(f"{path}: no such tokenizer file or folder")
    try:
        if path.is_dir() and (path / "tokenizer.json").exists():
            hf = HFTokenizer.from_file(str(path / "tokenizer.json"))
            return ShimTokenizer(hf, path.name, _roles_from_config(path, hf))
        if path.is_file() and path.suffix == ".json":
            return ShimTokenizer(HFTokenizer.from_file(str(path)), path.stem)
        if path.is_file():  # a SentencePiece model: let transformers convert it
            from transformers import LlamaTokenizer

            with tempfile.TemporaryDirectory() as tmp:
                shutil.copy(path, Path(tmp) / "tokenizer.model")
                fast = LlamaTokenizer.from_pretrained(tmp)
            hf = fast.backend_tokenizer
            roles = {r: getattr(fast, f"{r}_token_id") for r in ("bos", "eos", "pad", "unk")}
            return ShimTokenizer(hf, path.name, {k: v for k, v in roles.items() if v is not None})
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{path}: cannot load tokenizer: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    raise InputError(f"{path}: not a tokenizer (expected tokenizer.json, a folder with one, or a .model)")
