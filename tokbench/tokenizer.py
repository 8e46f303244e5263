"""The one tokenizer adapter every part of tokbench uses.

`load_tokenizer(spec)` accepts a `tokenizer.json`, a Hugging Face tokenizer folder, a SentencePiece `.model`, a tiktoken
descriptor (JSON with "type": "tiktoken", see `tokbench.zoo`) or `.tiktoken` ranks file, and zoo names. Whatever the
backend, a `Tokenizer` answers the same few verbs (after tiktoken's `Encoding`): encode, decode, token_bytes, vocab size,
special tokens. `token_bytes` is exact: byte-level BPE's remapped characters, SentencePiece's `▁` and `<0xNN>` pieces and
tiktoken's raw bytes all come back as the bytes the token stands for, so counts can be compared per byte across
tokenizers and byte-level probabilities can be computed.
"""

from __future__ import annotations

import base64
import functools
import json
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tokbench import bytelevel
from tokbench.errors import InputError, UsageError

SPIECE_UNDERLINE = "▁"
# A bare `.tiktoken` ranks file carries no split pattern; cl100k's is the common choice.
CL100K_PATTERN = (r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*|"""
                  r"""\s*[\r\n]|\s+(?!\S)|\s+""")


def _normalize(text: str, form: str | None) -> str:
    return unicodedata.normalize(form.upper(), text) if form else text


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


def _roles(specials: dict[str, int], **known: str | None) -> dict[str, int | None]:
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


# ------------------------------------------------------------------------------------------------------------------
# Hugging Face tokenizers
# ------------------------------------------------------------------------------------------------------------------
class HFTokenizer(Tokenizer):
    """A `tokenizers.Tokenizer` (tokenizer.json): BPE, Unigram, WordPiece, WordLevel."""

    def __init__(self, hf, name: str = "", config: dict | None = None):
        hf.encode_special_tokens = True  # special-token text in the input is plain text, as with tiktoken
        self._tok = hf
        self.name = name or "tokenizer"
        spec = json.loads(hf.to_str())
        model = spec.get("model") or {}
        self.model_type = str(model.get("type", "BPE")).lower()
        self.byte_fallback = bool(model.get("byte_fallback"))
        self._spec = spec
        kinds = _component_types(spec)
        self._bytelevel = "ByteLevel" in kinds
        self._metaspace = "Metaspace" in kinds or SPIECE_UNDERLINE in json.dumps(spec.get("normalizer") or {}) or (
            "Replace" in kinds and SPIECE_UNDERLINE in json.dumps(spec.get("decoder") or {}))
        self._wordpiece = self.model_type == "wordpiece"
        self._unk_token = model.get("unk_token")
        added = spec.get("added_tokens") or []
        self.special_tokens = {a["content"]: a["id"] for a in added if a.get("special")}
        self._added_plain = {a["id"]: a["content"] for a in added if not a.get("special")}
        config = config or {}
        self.roles = _roles(self.special_tokens, bos=config.get("bos_token"), eos=config.get("eos_token"),
                            pad=config.get("pad_token"), unk=config.get("unk_token") or self._unk_token)
        norm = spec.get("normalizer")
        self._normalizer_kinds = _component_types({"n": norm}) if norm else set()
        self.byte_level = self._bytelevel and not self._wordpiece and self._normalizer_kinds <= {"NFC", "Sequence"}
        self.lossless = self.byte_level or (self._metaspace and self.byte_fallback and not self._normalizer_kinds - {
            "Prepend", "Replace", "Sequence", "NFC"})
        self._max_id = max([hf.get_vocab_size(with_added_tokens=True) - 1] + [a["id"] for a in added])

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
        from tokbench.bpe_encoder import BPEEncoder

        try:
            return BPEEncoder.from_tokenizer_json(self._spec, encode_special_tokens=True)
        except UsageError:
            return None

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        if self._fast is not None and not add_special_tokens:
            return self._fast.encode(text)
        return self._tok.encode(text, add_special_tokens=add_special_tokens).ids

    def encode_batch(self, texts: Sequence[str], add_special_tokens: bool = False) -> list[list[int]]:
        if self._fast is not None and not add_special_tokens:
            ids, offsets = self._fast.encode_batch(list(texts))
            flat = ids.tolist()
            return [flat[offsets[i]:offsets[i + 1]] for i in range(len(texts))]
        return [e.ids for e in self._tok.encode_batch(list(texts), add_special_tokens=add_special_tokens)]

    def encode_arrays(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        if self._fast is not None:
            return self._fast.encode_batch(list(texts))
        return super().encode_arrays(texts)

    def decode(self, ids: Sequence[int]) -> str:
        if self.byte_level:
            return self.decode_bytes(ids).decode("utf-8", errors="replace")
        return self._tok.decode([int(i) for i in ids], skip_special_tokens=True)

    def id_to_token(self, token_id: int) -> str:
        token = self._tok.id_to_token(int(token_id))
        return "" if token is None else token

    def token_to_id(self, token: str) -> int | None:
        return self._tok.token_to_id(token)

    def token_bytes(self, token_id: int) -> bytes:
        token_id = int(token_id)
        if token_id in self.special_ids:
            return b""
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
            prefix = (self._spec.get("model") or {}).get("continuing_subword_prefix", "##")
            return (token[len(prefix):] if token.startswith(prefix) else token).encode("utf-8")
        return token.encode("utf-8")

    def _prepends(self) -> bool:
        pre = json.dumps(self._spec.get("pre_tokenizer") or {})
        norm = json.dumps(self._spec.get("normalizer") or {})
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


# ------------------------------------------------------------------------------------------------------------------
# SentencePiece
# ------------------------------------------------------------------------------------------------------------------
class SentencePieceTokenizer(Tokenizer):
    """A SentencePiece `.model` (BPE or unigram, with or without byte fallback)."""

    def __init__(self, path: str | Path, name: str = ""):
        import sentencepiece as spm

        self.path = Path(path)
        self.name = name or self.path.name
        try:
            self._sp = spm.SentencePieceProcessor(model_file=str(path))
            self._norm = spm.SentencePieceNormalizer(model_file=str(path))
        except (RuntimeError, OSError) as exc:
            raise InputError(f"{path}: not a valid SentencePiece model: {str(exc).splitlines()[0]}") from None
        sp = self._sp
        n = sp.get_piece_size()
        self._pieces = [sp.id_to_piece(i) for i in range(n)]
        self._control = {i for i in range(n) if sp.is_control(i) or sp.is_unknown(i)}
        self._bytes_ids = {i for i in range(n) if sp.is_byte(i)}
        self.byte_fallback = bool(self._bytes_ids)
        self.model_type = "bpe" if _sp_model_type(sp) == 2 else "unigram"
        self.special_tokens = {self._pieces[i]: i for i in sorted(self._control)}
        self.roles = {role: (i if i >= 0 else None) for role, i in
                      (("bos", sp.bos_id()), ("eos", sp.eos_id()), ("pad", sp.pad_id()), ("unk", sp.unk_id()))}
        self.lossless = self.byte_fallback
        self._piece_ids = {p: i for i, p in enumerate(self._pieces)}

    @property
    def vocab_size(self) -> int:
        return len(self._pieces)

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        return self._sp.encode(text, add_bos=add_special_tokens and self.roles["bos"] is not None)

    def encode_batch(self, texts: Sequence[str], add_special_tokens: bool = False) -> list[list[int]]:
        return self._sp.encode(list(texts), add_bos=add_special_tokens and self.roles["bos"] is not None)

    def decode(self, ids: Sequence[int]) -> str:
        return self._sp.decode([int(i) for i in ids])

    def id_to_token(self, token_id: int) -> str:
        return self._pieces[int(token_id)]

    def token_to_id(self, token: str) -> int | None:
        return self._piece_ids.get(token)

    def token_bytes(self, token_id: int) -> bytes:
        token_id = int(token_id)
        if token_id in self._control:
            return b""
        piece = self._pieces[token_id]
        if token_id in self._bytes_ids:
            return bytes([int(piece[3:5], 16)])
        return piece.replace(SPIECE_UNDERLINE, " ").encode("utf-8")

    def prepare(self, text: str) -> bytes:
        return self._norm.normalize(text).replace(SPIECE_UNDERLINE, " ").encode("utf-8")

    def hf(self):
        from tokbench.tokenizer_convert import sentencepiece_to_hf

        return sentencepiece_to_hf(self.path)


def _sp_model_type(sp) -> int:
    from sentencepiece import sentencepiece_model_pb2 as pb

    proto = pb.ModelProto()
    proto.ParseFromString(sp.serialized_model_proto())
    return proto.trainer_spec.model_type


# ------------------------------------------------------------------------------------------------------------------
# tiktoken
# ------------------------------------------------------------------------------------------------------------------
class TiktokenTokenizer(Tokenizer):
    """A tiktoken `Encoding` from a descriptor: ranks file, split pattern, special tokens, optional id offset."""

    model_type = "bpe"

    def __init__(self, descriptor: dict, base: Path, name: str = ""):
        import tiktoken

        self.name = name or descriptor.get("name") or "tiktoken"
        ranks_path = base / descriptor["ranks"]
        ranks = load_tiktoken_ranks(ranks_path)
        self._offset = int(descriptor.get("id_offset", 0))
        specials = {k: int(v) for k, v in (descriptor.get("special_tokens") or {}).items()}
        # tiktoken wants specials in its own id space; with an offset they live below it and are handled here.
        inner_specials = {k: v - self._offset for k, v in specials.items() if v >= self._offset}
        self._enc = tiktoken.Encoding(name=self.name, pat_str=descriptor["pattern"], mergeable_ranks=ranks,
                                      special_tokens=inner_specials)
        self._normalizer = descriptor.get("normalizer")
        self.special_tokens = specials
        self._special_by_id = {v: k for k, v in specials.items()}
        self._normalizer = self._normalizer.lower() if self._normalizer else None
        self.roles = _roles(specials, _explicit="roles" in descriptor, **(descriptor.get("roles") or {}))
        self.byte_level = self._normalizer in (None, "nfc")
        self.lossless = self.byte_level
        self._n = max([self._enc.max_token_value + 1 + self._offset] + [v + 1 for v in specials.values()])
        self._n = max(self._n, int(descriptor.get("vocab_size", 0)))
        self._ranks = ranks

    @property
    def vocab_size(self) -> int:
        return self._n

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        ids = self._enc.encode_ordinary(_normalize(text, self._normalizer))
        if self._offset:
            ids = [i + self._offset for i in ids]
        if add_special_tokens and self.roles.get("bos") is not None:
            ids = [self.roles["bos"], *ids]
        return ids

    def encode_batch(self, texts: Sequence[str], add_special_tokens: bool = False) -> list[list[int]]:
        if self._offset or add_special_tokens or self._normalizer:
            return [self.encode(t, add_special_tokens) for t in texts]
        return self._enc.encode_ordinary_batch(list(texts), num_threads=1)

    def decode(self, ids: Sequence[int]) -> str:
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    def token_bytes(self, token_id: int) -> bytes:
        token_id = int(token_id)
        if token_id in self._special_by_id:
            return b""
        inner = token_id - self._offset
        if inner < 0:
            return b""
        try:
            return self._enc.decode_single_token_bytes(inner)
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
        return _normalize(text, self._normalizer).encode("utf-8")

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


def load_tiktoken_ranks(path: Path) -> dict[bytes, int]:
    ranks: dict[bytes, int] = {}
    try:
        with open(path, "rb") as handle:
            for lineno, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                token, rank = line.split()
                ranks[base64.b64decode(token)] = int(rank)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (ValueError, base64.binascii.Error):
        raise InputError(f"{path}: line {lineno}: expected '<base64 token> <rank>'") from None
    return ranks


# ------------------------------------------------------------------------------------------------------------------
# loading
# ------------------------------------------------------------------------------------------------------------------
def load_tokenizer(spec: str | Path | Tokenizer) -> Tokenizer:
    """Load a tokenizer from a file, a folder or a zoo name (see the module docstring)."""
    if isinstance(spec, Tokenizer):
        return spec
    return _load_cached(str(spec))


@functools.lru_cache(maxsize=16)
def _load_cached(spec: str) -> Tokenizer:
    path = Path(spec)
    if path.is_dir():
        return _load_folder(path)
    if path.is_file():
        return _load_file(path)
    from tokbench import zoo

    if spec in zoo.names():
        tok = _load_file(Path(zoo.resolve(spec)), name=spec)
        tok.name = spec
        return tok
    if "/" in spec or spec.endswith((".json", ".model", ".tiktoken")):
        raise InputError(f"{spec}: no such tokenizer file or folder")
    raise UsageError(f"unknown tokenizer {spec!r}: not a file, folder or zoo name ({', '.join(zoo.names())})")


def _load_folder(path: Path) -> Tokenizer:
    for candidate in ("tokenizer.json", "tokenizer.model", "tokenizer.tiktoken.json"):
        if (path / candidate).is_file():
            config = {}
            if (path / "tokenizer_config.json").is_file():
                config = _token_strings(_read_json(path / "tokenizer_config.json"))
            return _load_file(path / candidate, name=path.name, config=config)
    models = sorted(path.glob("*.model"))
    if models:
        return _load_file(models[0], name=path.name)
    if (path / "vocab.txt").is_file():
        from tokenizers import BertWordPieceTokenizer

        hf = BertWordPieceTokenizer(str(path / "vocab.txt"), lowercase=True)._tokenizer
        return HFTokenizer(hf, name=path.name)
    raise InputError(f"{path}: folder holds no tokenizer (tokenizer.json, *.model or vocab.txt)")


def _token_strings(config: dict) -> dict[str, str]:
    out = {}
    for key in ("bos_token", "eos_token", "pad_token", "unk_token"):
        value = config.get(key)
        if isinstance(value, dict):
            value = value.get("content")
        if isinstance(value, str):
            out[key] = value
    return out


def _read_json(path: Path) -> Any:
    from tokbench.io import read_json

    return read_json(path)


def _load_file(path: Path, name: str = "", config: dict | None = None) -> Tokenizer:
    name = name or (path.parent.name if path.name == "tokenizer.json" else path.stem)
    suffix = path.suffix
    if suffix == ".json":
        data = _read_json(path)
        if isinstance(data, dict) and data.get("type") == "tiktoken":
            return TiktokenTokenizer(data, path.parent, name=name)
        from tokenizers import Tokenizer as HFRaw

        if not isinstance(data, dict) or "model" not in data:
            raise InputError(f"{path}: not a tokenizer.json (no 'model' section)")
        try:
            hf = HFRaw.from_file(str(path))
        except Exception as exc:  # tokenizers raises a bare Exception with a serde message
            raise InputError(f"{path}: not a valid tokenizer.json: {str(exc).splitlines()[0]}") from None
        return HFTokenizer(hf, name=name, config=config)
    if suffix == ".tiktoken":
        descriptor = {"type": "tiktoken", "ranks": path.name, "pattern": CL100K_PATTERN, "special_tokens": {}}
        return TiktokenTokenizer(descriptor, path.parent, name=name)
    if suffix == ".model" or ".model." in path.name:
        return SentencePieceTokenizer(path, name=name)
    raise InputError(f"{path}: unknown tokenizer format (expected tokenizer.json, .model, .tiktoken or a folder)")
