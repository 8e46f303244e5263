"""Pre-tokenizer and normalizer presets shared by word counting (train) and the encoder.

Python side of `tokbench.kernels.pretokenize`: resolves preset names, loads the character-class table (built from
`regex` once and cached on disk), and offers `split(text, name)` for callers that want pre-tokens as strings.
"""

from __future__ import annotations

import functools
import unicodedata

import numpy as np

from tokbench.errors import UsageError
from tokbench.kernels import pretokenize as K

PRETOKENIZERS = tuple(K.PATTERNS)  # gpt2, cl100k, llama3, whitespace, whitespace-kept, none, qwen2, o200k
NORMALIZERS = ("none", "nfc", "nfkc", "nfd", "nfkd")


def kind(name: str) -> int:
    """Kernel id of a pre-tokenizer preset; UsageError names the choices."""
    try:
        return K.KINDS[name]
    except KeyError:
        raise UsageError(f"unknown pre-tokenizer {name!r}; choose one of {', '.join(PRETOKENIZERS)}") from None


def pattern(name: str) -> str:
    """The regex (for the `regex` package / HF Split) that the preset's scanner reproduces."""
    kind(name)
    return K.PATTERNS[name]


def normalizer_name(normalizer: str | None) -> str:
    """Canonical normalizer name ('none' for None); UsageError for unknown ones."""
    norm = (normalizer or "none").lower()
    if norm not in NORMALIZERS:
        raise UsageError(f"unknown normalizer {normalizer!r}; choose one of {', '.join(NORMALIZERS)}")
    return norm


def normalize(text: str, normalizer: str | None) -> str:
    """Unicode normalization by name (none/nfc/nfkc/nfd/nfkd), plain unicodedata."""
    norm = normalizer_name(normalizer)
    return text if norm == "none" else unicodedata.normalize(norm.upper(), text)


@functools.lru_cache(maxsize=1)
def class_table() -> np.ndarray:
    """The uint16 class table over all code points, cached as .npy keyed by the `regex` version."""
    import regex

    from tokbench.io import atomic_write, cache_dir

    path = cache_dir("pretokenize") / f"classes-regex{regex.__version__}-v{K.TABLE_VERSION}.npy"
    try:
        table = np.load(path)
        if table.shape == (K.N_CODEPOINTS,) and table.dtype == np.uint16:
            return table
    except (OSError, ValueError):
        pass
    table = K.build_class_table()
    try:
        with atomic_write(path, "wb") as f:
            np.save(f, table)
    except OSError:
        pass  # a read-only cache only costs the 0.1 s rebuild
    return table


def spans(text: str, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Code-point [start, end) spans of the pre-tokens of `text`, scanned as one string."""
    cps = K.codepoints(text)
    return K.split_lines(cps, np.array([0, len(cps)], np.int64), kind(name), class_table())


def split(text: str, name: str) -> list[str]:
    """Pre-tokens of `text` as strings; equals `regex.findall(pattern(name), text)`."""
    starts, ends = spans(text, name)
    return [text[a:b] for a, b in zip(starts.tolist(), ends.tolist())]


def hf_pretokenizer(name: str, byte_level: bool = True):
    """The `tokenizers` pre-tokenizer that splits like the preset (its trainer then counts the same words).

    gpt2 is HF's own ByteLevel regex; none is a regex-free ByteLevel alone; the others are Split(pattern, "isolated")
    (as in Llama-3/Qwen tokenizer.json files), whitespace is HF's Whitespace, each followed by a regex-free ByteLevel
    when `byte_level`."""
    from tokenizers import Regex, pre_tokenizers

    kind(name)
    if name == "gpt2":
        return pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=byte_level)
    if name == "none" and byte_level:
        return pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    first = (
        pre_tokenizers.Whitespace()
        if name == "whitespace"
        else pre_tokenizers.Split(Regex(K.PATTERNS[name]), behavior="isolated", invert=False)
    )
    if not byte_level:
        return first
    return pre_tokenizers.Sequence([first, pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
