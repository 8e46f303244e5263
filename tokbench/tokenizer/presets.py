"""The one table of pre-tokenizer presets, and the one list of normalizers.

A preset is a split regex plus the ways tokbench runs it: a numba scanner in `tokbench.kernels.pretokenize` that
reproduces the regex exactly (property-tested against `regex`), the Hugging Face pre-tokenizer that splits the same way
(so a tokenizer.json written by either training engine, and the word counts behind it, split text alike), and whether
superbpe's stage 1 (and char-bpe) accept it. A new preset is one row here (plus its scanner in kernels/ if none fits).

The kernels import nothing from here: they know scanner kinds by number, and `kind(name)` looks the number up lazily, so
this module (and `tokbench zoo`, `tokbench tokenize`) does not import numba.
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass

import numpy as np

from tokbench.errors import UsageError


@dataclass(frozen=True)
class Preset:
    name: str
    pattern: str  # the regex (for `regex`, HF Split and tiktoken's pat_str) that the scanner reproduces
    scanner: str  # name of the scanner-kind constant in kernels.pretokenize
    hf: str  # the HF pre-tokenizer: "bytelevel" (its own regex), "split" (Split(pattern, isolated)), "whitespace", "none"
    superbpe: str | None = None  # superbpe stage 2's digit rule after this stage 1 ("digits"/"digits3"); None: refused


PRESETS: dict[str, Preset] = {p.name: p for p in (
    # GPT-2's ByteLevel regex (HF's own ByteLevel split)
    Preset("gpt2", r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""",
           scanner="GPT2", hf="bytelevel", superbpe="digits"),
    # OpenAI cl100k_base (GPT-4); also the pattern of a bare .tiktoken ranks file
    Preset("cl100k", r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+""",
           scanner="CL100K", hf="split", superbpe="digits3"),
    # Llama-3 tokenizer.json Split
    Preset("llama3", r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""",
           scanner="LLAMA3", hf="split", superbpe="digits3"),
    # HF pre_tokenizers.Whitespace: the whitespace between matches is dropped
    Preset("whitespace", r"""\w+|[^\w\s]+""",
           scanner="WHITESPACE", hf="whitespace"),
    # the same cuts, whitespace runs kept as pieces (lossless)
    Preset("whitespace-kept", r"""\w+|[^\w\s]+|\s+""",
           scanner="WHITESPACE_KEPT", hf="split"),
    # the whole line is one piece
    Preset("none", r"""[\s\S]+""",
           scanner="NONE", hf="none"),
    # Qwen2 / Qwen2.5 / Qwen3 tokenizer.json Split: single digits, unlike Llama-3's \p{N}{1,3}
    Preset("qwen2", r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""",
           scanner="QWEN2", hf="split"),
    # OpenAI o200k_base (GPT-4o)
    Preset("o200k", "|".join([
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]), scanner="O200K", hf="split"),
)}
PRETOKENIZERS = tuple(PRESETS)  # gpt2, cl100k, llama3, whitespace, whitespace-kept, none, qwen2, o200k


@dataclass(frozen=True)
class Normalizer:
    name: str
    form: str | None  # the unicodedata normal form (also the HF normalizer of that name); None: text as is
    sentencepiece: str | None  # SentencePiece's normalization rule for training; None: `tokbench train` refuses it


NORMALIZERS: dict[str, Normalizer] = {n.name: n for n in (
    Normalizer("none", None, "identity"),
    Normalizer("nfc", "NFC", "identity"),
    Normalizer("nfkc", "NFKC", "nfkc"),
    Normalizer("nfd", "NFD", None),
    Normalizer("nfkd", "NFKD", None),
)}
TRAIN_NORMALIZERS = tuple(n.name for n in NORMALIZERS.values() if n.sentencepiece is not None)  # none, nfc, nfkc
SUPERBPE_PRETOKENIZERS = tuple(p.name for p in PRESETS.values() if p.superbpe is not None)  # gpt2, cl100k, llama3


def preset(name: str) -> Preset:
    """The preset row; UsageError names the choices."""
    try:
        return PRESETS[name]
    except KeyError:
        raise UsageError(f"unknown pre-tokenizer {name!r}; choose one of {', '.join(PRETOKENIZERS)}") from None


def kind(name: str) -> int:
    """Kernel id of a pre-tokenizer preset's scanner; UsageError names the choices."""
    from tokbench.kernels import pretokenize as K

    return getattr(K, preset(name).scanner)


def pattern(name: str) -> str:
    """The regex (for the `regex` package / HF Split) that the preset's scanner reproduces."""
    return preset(name).pattern


def normalizer_name(normalizer: str | None) -> str:
    """Canonical normalizer name ('none' for None); UsageError for unknown ones."""
    norm = (normalizer or "none").lower()
    if norm not in NORMALIZERS:
        raise UsageError(f"unknown normalizer {normalizer!r}; choose one of {', '.join(NORMALIZERS)}")
    return norm


def normalize(text: str, normalizer: str | None) -> str:
    """Unicode normalization by name (none/nfc/nfkc/nfd/nfkd), plain unicodedata."""
    form = NORMALIZERS[normalizer_name(normalizer)].form
    return unicodedata.normalize(form, text) if form else text


def check_trainable(pretokenizer: str, normalizer: str) -> None:
    """The presets `tokbench train` and `count` accept (SentencePiece has no NFD/NFKD rule)."""
    if pretokenizer not in PRESETS:
        raise UsageError(f"--pretokenizer must be one of {', '.join(PRETOKENIZERS)}, not {pretokenizer!r}")
    if normalizer not in TRAIN_NORMALIZERS:
        raise UsageError(f"--normalizer must be one of {', '.join(TRAIN_NORMALIZERS)}, not {normalizer!r}")


def hf_normalizer(name: str):
    """The `tokenizers` normalizer of that name (None for none)."""
    from tokenizers import normalizers

    form = NORMALIZERS[normalizer_name(name)].form
    return getattr(normalizers, form)() if form else None


@functools.lru_cache(maxsize=1)
def class_table() -> np.ndarray:
    """The uint16 class table over all code points, cached as .npy keyed by the `regex` version."""
    import regex

    from tokbench.io import atomic_write, cache_dir
    from tokbench.kernels import pretokenize as K

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
    from tokbench.kernels import pretokenize as K

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

    row = preset(name)
    if row.hf == "bytelevel":
        return pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=byte_level)
    if row.hf == "none" and byte_level:
        return pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    first = (
        pre_tokenizers.Whitespace()
        if row.hf == "whitespace"
        else pre_tokenizers.Split(Regex(row.pattern), behavior="isolated", invert=False)
    )
    if not byte_level:
        return first
    return pre_tokenizers.Sequence([first, pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
