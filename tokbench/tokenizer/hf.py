"""Hugging Face `tokenizers` backend: a tokenizer.json (BPE, Unigram, WordPiece, WordLevel).

Byte-level BPE files are encoded by tokbench's numba encoder (`fast_bpe`) where it reproduces `tokenizers` exactly;
everything else goes through `tokenizers` itself. Either way, added tokens with `special: false` are matched as one
token (as every HF client does) and special ones are plain text unless allowed (`allowed_special`).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tokbench.tokenizer import bytelevel
from tokbench.tokenizer.base import SPIECE_UNDERLINE, Tokenizer, roles_from_specials


class HFTokenizer(Tokenizer):
    """A `tokenizers.Tokenizer` (tokenizer.json): BPE, Unigram, WordPiece, WordLevel."""

    def __init__(self, hf, name: str = "", config: dict | None = None, path: str | Path | None = None):
        """path: the tokenizer.json `hf` was read from, if any (its fast encoder is then cached by the file's hash)."""
        self._path = path
        hf.encode_special_tokens = True  # special-token text in the input is plain text, as with tiktoken
        self._tok = hf
        self.name = name or "tokenizer"
        spec = self._light = _light_spec(hf) or self._spec
        model = spec["model"]
        self.model_type = str(model.get("type", "BPE")).lower()
        self.byte_fallback = bool(model.get("byte_fallback"))
        kinds = _component_types({k: v for k, v in spec.items() if k != "model"}) | {model.get("type")}  # not the vocab
        self._bytelevel = "ByteLevel" in kinds
        self._metaspace = "Metaspace" in kinds or SPIECE_UNDERLINE in _dumps(spec.get("normalizer")) or (
            "Replace" in kinds and SPIECE_UNDERLINE in _dumps(spec.get("decoder")))
        self._wordpiece = self.model_type == "wordpiece"
        self._unk_token = model.get("unk_token")
        added = spec.get("added_tokens") or []
        self.special_tokens = {a["content"]: a["id"] for a in added if a.get("special")}
        self._added_plain = {a["id"]: a["content"] for a in added if not a.get("special")}
        config = config or {}
        self.roles = roles_from_specials(self.special_tokens, bos=config.get("bos_token"), eos=config.get("eos_token"),
                            pad=config.get("pad_token"), unk=config.get("unk_token") or self._unk_token)
        norm = spec.get("normalizer")
        self._normalizer_kinds = _component_types({"n": norm}) if norm else set()
        self.byte_level = self._bytelevel and not self._wordpiece and self._normalizer_kinds <= {"NFC", "Sequence"}
        self.lossless = self.byte_level or (self._metaspace and self.byte_fallback and not self._normalizer_kinds - {
            "Prepend", "Replace", "Sequence", "NFC"})
        self._max_id = max([hf.get_vocab_size(with_added_tokens=True) - 1] + [a["id"] for a in added])

    @functools.cached_property
    def _spec(self) -> dict:
        """The whole tokenizer.json, vocabulary and merges too: parsed only when asked for (bpe_merges, the fast
        encoder of a tokenizer not read from a file)."""
        return json.loads(self._tok.to_str())

    @property
    def vocab_size(self) -> int:
        return self._max_id + 1

    def hf(self):
        return self._tok

    @functools.cached_property
    def _fast(self):
        """tokbench's numba encoder where it reproduces this tokenizer exactly (byte-level BPE), else None."""
        if self.model_type != "bpe" or not self._bytelevel:
            return None
        from tokbench.tokenizer.fast_bpe import fast_encoder

        return fast_encoder(self._path or self._spec, encode_special_tokens=True)

    def encode(self, text: str, add_special_tokens: bool = False, allowed_special=None) -> list[int]:
        return self.encode_batch([text], add_special_tokens, allowed_special)[0]

    def encode_batch(self, texts: Sequence[str], add_special_tokens: bool = False,
                     allowed_special=None) -> list[list[int]]:
        allowed = self._allowed(allowed_special)
        if self._fast is not None and not add_special_tokens:
            ids, offsets = self._fast.allowing(allowed).encode_batch(list(texts))
            flat = ids.tolist()
            return [flat[offsets[i]:offsets[i + 1]] for i in range(len(texts))]
        if allowed and allowed != set(self.special_tokens):  # some allowed: cut the text at them, as tiktoken does
            return [self._split_special(t, allowed, lambda part: self._hf_ids([part], False, True)[0]) for t in texts]
        return self._hf_ids(list(texts), add_special_tokens, not allowed)

    def _hf_ids(self, texts: list[str], add_special_tokens: bool, plain_specials: bool) -> list[list[int]]:
        """`tokenizers` itself; with every special token allowed, HF's own matcher finds them (as transformers)."""
        self._tok.encode_special_tokens = plain_specials
        try:
            return [e.ids for e in self._tok.encode_batch(texts, add_special_tokens=add_special_tokens)]
        finally:
            self._tok.encode_special_tokens = True

    def encode_arrays(self, texts: Sequence[str], allowed_special=None) -> tuple[np.ndarray, np.ndarray]:
        if self._fast is not None:
            return self._fast.allowing(self._allowed(allowed_special)).encode_batch(list(texts))
        return super().encode_arrays(texts, allowed_special)

    def decode(self, ids: Sequence[int]) -> str:
        if self.byte_level:
            return self.decode_bytes(ids).decode("utf-8", errors="replace")
        return self._tok.decode([int(i) for i in ids], skip_special_tokens=True)

    def id_to_token(self, token_id: int) -> str:
        token = self._tok.id_to_token(int(token_id))
        return "" if token is None else token

    def token_to_id(self, token: str) -> int | None:
        return self._tok.token_to_id(token)

    def _token_bytes(self, token_id: int) -> bytes:
        if token_id in self._added_plain:
            return self._added_plain[token_id].encode("utf-8")
        token = self._tok.id_to_token(token_id)
        if token is None:
            return b""
        if self._bytelevel and not self._wordpiece:
            raw = bytelevel.to_bytes(token)
            return token.encode("utf-8") if raw is None else raw
        if self.byte_fallback and len(token) == 6 and token.startswith("<0x") and token.endswith(">"):
            return bytes([int(token[3:5], 16)])
        if self._metaspace:
            return token.replace(SPIECE_UNDERLINE, " ").encode("utf-8")
        if self._wordpiece:
            prefix = self._light["model"].get("continuing_subword_prefix") or "##"
            return (token[len(prefix):] if token.startswith(prefix) else token).encode("utf-8")
        return token.encode("utf-8")

    def _prepends(self) -> bool:
        pre = _dumps(self._light.get("pre_tokenizer"))
        norm = _dumps(self._light.get("normalizer"))
        return '"Prepend"' in norm or ('"Metaspace"' in pre and '"never"' not in pre and '"add_prefix_space": false'
                                       not in pre)

    def prepare(self, text: str) -> bytes:
        normalizer = self._tok.normalizer
        out = normalizer.normalize_str(text) if normalizer is not None else text
        if self._wordpiece:  # WordPiece tokens carry no spaces: the words' bytes, run together
            return "".join(out.split()).encode("utf-8")
        if self._metaspace:
            out = out.replace(SPIECE_UNDERLINE, " ")
            if self._prepends() and "Prepend" not in self._normalizer_kinds and out and not out.startswith(" "):
                out = " " + out
        return out.encode("utf-8")

    def bpe_merges(self) -> list[tuple[int, int, int]] | None:
        if self.model_type != "bpe":
            return None
        vocab = self._tok.get_vocab(with_added_tokens=False)
        merges = []
        for merge in self._spec["model"].get("merges", []):
            left, right = merge.split(" ", 1) if isinstance(merge, str) else merge
            merges.append((vocab[left], vocab[right], vocab[left + right]))
        return merges


def _light_spec(hf) -> dict | None:
    """The tokenizer.json minus the model's vocabulary and merges, from the loaded components (each one's own
    serialization, the JSON tokenizer.json holds): json.loads(hf.to_str()) would serialize and parse the vocabulary
    a second time after `tokenizers` read it (~0.4 s of Llama-3's load). None for a model whose settings the Python
    object does not expose (Unigram: no byte_fallback), which the whole file then gives."""
    if type(hf.model).__name__ not in ("BPE", "WordPiece", "WordLevel"):
        return None

    def state(component):
        return None if component is None else json.loads(component.__getstate__())

    model = {"type": type(hf.model).__name__}
    for key in ("byte_fallback", "unk_token", "continuing_subword_prefix", "end_of_word_suffix", "dropout",
                "ignore_merges"):
        if getattr(hf.model, key, None) is not None:
            model[key] = getattr(hf.model, key)
    added = [{"id": i, "content": t.content, "special": t.special, "single_word": t.single_word, "lstrip": t.lstrip,
              "rstrip": t.rstrip, "normalized": t.normalized} for i, t in sorted(hf.get_added_tokens_decoder().items())]
    return {"model": model, "added_tokens": added, "normalizer": state(hf.normalizer),
            "pre_tokenizer": state(hf.pre_tokenizer), "post_processor": state(hf.post_processor),
            "decoder": state(hf.decoder)}


def _dumps(component: Any) -> str:
    """A tokenizer.json component as text, `▁` kept as itself."""
    return json.dumps(component or {}, ensure_ascii=False)


def _component_types(obj: Any) -> set[str]:
    """Every "type" named in a nested tokenizer.json component."""
    found: set[str] = set()
    if isinstance(obj, dict):
        if isinstance(obj.get("type"), str):
            found.add(obj["type"])
        for value in obj.values():
            found |= _component_types(value)
    elif isinstance(obj, list):
        for value in obj:
            found |= _component_types(value)
    return found

