"""`load_tokenizer(spec)`: a file, a folder or a zoo name -> a `Tokenizer`.

Files are loaded by a table keyed by their kind (the suffix; a `.json` is a tiktoken descriptor or a tokenizer.json by
its content). A folder is read through the file it holds (tokenizer.json, tokenizer.model, a descriptor, any `.model`,
or a BERT vocab.txt), with the roles from its tokenizer_config.json. Zoo names resolve to a cached file first.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

from tokbench.errors import InputError, UsageError
from tokbench.io import read_json
from tokbench.tokenizer import formats
from tokbench.tokenizer.base import Tokenizer

FOLDER_FILES = ("tokenizer.json", "tokenizer.model", "tokenizer.tiktoken.json")  # what a folder is read through


def load_tokenizer(spec: str | Path | Tokenizer) -> Tokenizer:
    """Load a tokenizer from a file, a folder or a zoo name (see the module docstring); the last 16 are kept."""
    if isinstance(spec, Tokenizer):
        return spec
    return _load_cached(str(spec))


@functools.lru_cache(maxsize=16)
def _load_cached(spec: str) -> Tokenizer:
    path = Path(spec)
    if path.is_dir():
        return _load_folder(path)
    if path.is_file():
        return load_file(path)
    from tokbench.tokenizer import zoo

    if spec in zoo.names():
        return load_file(zoo.resolve(spec), name=spec)
    if "/" in spec or spec.endswith(tuple(LOADERS)):
        raise InputError(f"{spec}: no such tokenizer file or folder")
    raise UsageError(f"unknown tokenizer {spec!r}: not a file, folder or zoo name ({', '.join(zoo.names())})")


def _load_folder(path: Path) -> Tokenizer:
    for candidate in FOLDER_FILES:
        if (path / candidate).is_file():
            config = {}
            if (path / "tokenizer_config.json").is_file():
                config = _token_strings(read_json(path / "tokenizer_config.json"))
            return load_file(path / candidate, name=path.name, config=config)
    models = sorted(path.glob("*.model"))
    if models:
        return load_file(models[0], name=path.name)
    if (path / "vocab.txt").is_file():
        from tokenizers import BertWordPieceTokenizer

        from tokbench.tokenizer.hf import HFTokenizer

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


# ---------------------------------------------------------------------------------------------------- one loader a kind


def _load_json(path: Path, name: str, config: dict | None) -> Tokenizer:
    """A tiktoken descriptor ("type": "tiktoken") or a Hugging Face tokenizer.json."""
    data = read_json(path)
    if isinstance(data, dict) and data.get("type") == "tiktoken":
        from tokbench.tokenizer.tiktoken import TiktokenTokenizer

        return TiktokenTokenizer(formats.check_descriptor(data, path), name=name, where=path)
    from tokenizers import Tokenizer as HFRaw

    from tokbench.tokenizer.hf import HFTokenizer

    if not isinstance(data, dict) or "model" not in data:
        raise InputError(f"{path}: not a tokenizer.json (no 'model' section)")
    try:
        hf = HFRaw.from_file(str(path))
    except Exception as exc:  # tokenizers raises a bare Exception with a serde message
        raise InputError(f"{path}: not a valid tokenizer.json: {str(exc).splitlines()[0]}") from None
    return HFTokenizer(hf, name=name, config=config, path=path)


def _load_ranks(path: Path, name: str, config: dict | None) -> Tokenizer:
    """A bare `.tiktoken` ranks file: no specials, cl100k's split pattern (the common choice)."""
    from tokbench.tokenizer.presets import pattern
    from tokbench.tokenizer.tiktoken import TiktokenTokenizer

    return TiktokenTokenizer(formats.ranks_descriptor(path, pattern("cl100k")), name=name, where=path)


def _load_sentencepiece(path: Path, name: str, config: dict | None) -> Tokenizer:
    from tokbench.tokenizer.sentencepiece import SentencePieceTokenizer

    return SentencePieceTokenizer(path, name=name)


LOADERS: dict[str, Callable[[Path, str, dict | None], Tokenizer]] = {
    ".json": _load_json,
    ".tiktoken": _load_ranks,
    ".model": _load_sentencepiece,
}


def load_file(path: Path, name: str = "", config: dict | None = None) -> Tokenizer:
    """One tokenizer file, by its kind; `name` defaults to the folder of a tokenizer.json, else the file's stem."""
    name = name or (path.parent.name if path.name == "tokenizer.json" else path.stem)
    kind = ".model" if ".model." in path.name else path.suffix  # mistral-common's tokenizer.model.v1
    loader = LOADERS.get(kind)
    if loader is None:
        raise InputError(f"{path}: unknown tokenizer format (expected tokenizer.json, .model, .tiktoken or a folder)")
    return loader(path, name, config)
