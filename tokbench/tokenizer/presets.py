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
    pattern: str  # the regex, character for character as its source writes it (for `regex` and tiktoken's pat_str)
    scanner: str  # name of the scanner-kind constant in kernels.pretokenize
    hf: str  # the HF pre-tokenizer: "bytelevel" (its own regex), "split" (Split(pattern, isolated)), "whitespace", "none",
    # "digits" (Split(\p{N}, isolated) then ByteLevel's own regex: llama.cpp's two-stage `smollm`)
    superbpe: str | None = None  # superbpe stage 2's digit rule after this stage 1 ("digits"/"digits3"); None: refused
    source: str = ""  # where `pattern` comes from (checked by tests/tokenizer/test_presets.py)
    hf_form: str | None = None  # the same split spelled for `tokenizers`' Oniguruma (None: `pattern` itself)

    @property
    def hf_pattern(self) -> str:
        """The regex for an HF Split: Oniguruma reads `{1,3}+` as `({1,3})+`, not as a possessive `{1,3}`."""
        return self.hf_form or self.pattern


_O200K_WORDS = (r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+",
                r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*")
_CONTRACTION = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)"

PRESETS: dict[str, Preset] = {p.name: p for p in (
    # GPT-2's ByteLevel regex (HF's own ByteLevel split; tiktoken's r50k/gpt2 pat_str means the same)
    Preset("gpt2", r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""",
           scanner="GPT2", hf="bytelevel", superbpe="digits", source="tokenizers ByteLevel"),
    # OpenAI cl100k_base (GPT-4), tiktoken's pat_str; also the pattern of a bare .tiktoken ranks file. `\s++$` keeps
    # whitespace that ends the text in one piece ("a\n " -> a | "\n "), which tiktoken before 0.7 (= llama3) did not
    Preset("cl100k", r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s""",
           scanner="CL100K", hf="split", superbpe="digits3", source="tiktoken cl100k_base",
           hf_form=r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""),
    # Llama-3 tokenizer.json Split (= tiktoken's cl100k pattern before 0.7)
    Preset("llama3", r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""",
           scanner="LLAMA3", hf="split", superbpe="digits3", source="llama3 tokenizer.json"),
    # HF pre_tokenizers.Whitespace: the whitespace between matches is dropped
    Preset("whitespace", r"""\w+|[^\w\s]+""",
           scanner="WHITESPACE", hf="whitespace", source="tokenizers Whitespace"),
    # the same cuts, whitespace runs kept as pieces (lossless)
    Preset("whitespace-kept", r"""\w+|[^\w\s]+|\s+""",
           scanner="WHITESPACE_KEPT", hf="split"),
    # the whole line is one piece
    Preset("none", r"""[\s\S]+""",
           scanner="NONE", hf="none"),
    # Qwen2 / Qwen2.5 / Qwen3 tokenizer.json Split: single digits, unlike Llama-3's \p{N}{1,3}
    Preset("qwen2", r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""",
           scanner="QWEN2", hf="split", source="qwen3 tokenizer.json"),
    # SmolLM / SmolLM2 (GGUF tokenizer.ggml.pre = smollm): llama.cpp isolates every \p{N} first, then applies GPT-2's
    # regex to the text between digits; as one regex, a whitespace run also ends where a digit follows
    Preset("smollm", r"""\p{N}|'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?[^\s\p{L}\p{N}]+|\s+(?![^\s\p{N}])|\s+""",
           scanner="SMOLLM", hf="digits", source="llama.cpp smollm"),
    # OpenAI o200k_base (GPT-4o), tiktoken's pat_str
    Preset("o200k", "|".join([
        _O200K_WORDS[0] + _CONTRACTION + "?",
        _O200K_WORDS[1] + _CONTRACTION + "?",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]), scanner="O200K", hf="split", source="tiktoken o200k_base"),
    # Mistral Tekken (mistral-common's tekken.json): o200k's words without contractions, single digits
    Preset("tekken", "|".join([*_O200K_WORDS, r"""\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"""]),
           scanner="TEKKEN", hf="split", source="mistral-common tekken"),
)}
PRETOKENIZERS = tuple(PRESETS)  # gpt2, cl100k, llama3, whitespace, whitespace-kept, none, qwen2, smollm, o200k, tekken


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


# --- which scanner reproduces a pattern: by what it does, not how it is spelled ---------------------------------------
# Tokenizer files spell one split many ways (tiktoken 0.14's possessive `\p{L}++`, older files' `\p{L}+`,
# `'(?i:[sdmt]|ll|ve|re)` or `(?i:'s|'t|...)`), so a pattern is matched to a preset by splitting probe texts with it
# and with each preset, in the engine the pattern is written for: `regex` (tiktoken pat_str, whose fancy-regex agrees
# with `regex` on these) or `tokenizers` (a tokenizer.json Split, read by Oniguruma, where `{1,3}+` means `({1,3})+`).
_PROBE_CHARS = list("'sStTrReEvVmMlLdDſ aAzZéÉßİıǅʰ中日한ภ\u0301\u0903") + list("07٣²½Ⅻ") + list(".,!?/-_()\"$€😀") + [
    " ", "  ", "\t", "\n", "\r", "\r\n", "\u00a0", "\u2003", "\u3000", "\x0b", "\x0c", "\x1c", "\x85", "\u2028",
    "'ll", "'VE", "'Re", "n't", "1234567", " \n ", "\u200d", "\ufe0f"]
_PROBE_FIXED = ["a\n ", "a  b", " a", "x \n\n  ", "I'M  here 12345\n", "HELLO'S World'll ǅemal ʰaʰ A\u0301B\u0301c path/to/ !/\n",
                "don't stop", "1234567 ½٣", "tabs\t\tend\t", "  ", "\n", "\r\n\r\n", "x\u3000", "end. \n"]


@functools.lru_cache(maxsize=1)
def _probes() -> tuple[str, ...]:
    import random

    rng = random.Random(13)
    made = ["".join(rng.choice(_PROBE_CHARS) for _ in range(rng.randint(1, 24))) for _ in range(1500)]
    return tuple(_PROBE_FIXED + made)


def _cut(pieces: list[tuple[int, int]], n: int) -> tuple[tuple[int, int], ...]:
    """Match spans plus the gaps between them as pieces (what HF's Split "isolated" returns)."""
    out, pos = [], 0
    for a, b in pieces:
        if a > pos:
            out.append((pos, a))
        if b > a:
            out.append((a, b))
        pos = b
    if pos < n:
        out.append((pos, n))
    return tuple(out)


def _regex_splits(pattern: str) -> tuple | None:
    import regex

    try:
        compiled = regex.compile(pattern)
    except regex.error:
        return None
    return tuple(_cut([m.span() for m in compiled.finditer(t)], len(t)) for t in _probes())


def _hf_splits(pattern: str) -> tuple | None:
    from tokenizers import Regex, pre_tokenizers

    try:
        split = pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False)
    except Exception:  # tokenizers raises a bare Exception for a pattern Oniguruma refuses
        return None
    return tuple(tuple(span for _, span in split.pre_tokenize_str(t)) for t in _probes())


@functools.lru_cache(maxsize=1)
def _preset_splits() -> dict[tuple, str]:
    """Probe splits of every isolated preset (the dropping Whitespace one is matched by HF type, not by regex)."""
    return {_regex_splits(row.pattern): name for name, row in PRESETS.items() if row.hf != "whitespace"}


@functools.lru_cache(maxsize=64)
def scanner_preset(pattern: str, engine: str = "regex") -> str | None:
    """The preset whose numba scanner splits exactly as `pattern` does in `engine` ("regex" or "hf"), else None."""
    for name, row in PRESETS.items():  # the spellings in the table need no probing
        if row.hf != "whitespace" and pattern == (row.pattern if engine == "regex" else row.hf_pattern):
            return name
    splits = _regex_splits(pattern) if engine == "regex" else _hf_splits(pattern)
    return None if splits is None else _preset_splits().get(splits)


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
    """The presets trainers accept (SentencePiece has no NFD/NFKD rule); the CLI checks the flags before this."""
    if pretokenizer not in PRESETS:
        raise UsageError(f"pretokenizer {pretokenizer!r} is not a preset ({', '.join(PRETOKENIZERS)})")
    if normalizer not in TRAIN_NORMALIZERS:
        raise UsageError(f"normalizer {normalizer!r} cannot be trained with ({', '.join(TRAIN_NORMALIZERS)})")


def hf_normalizer(name: str):
    """The `tokenizers` normalizer of that name (None for none)."""
    from tokenizers import normalizers

    form = NORMALIZERS[normalizer_name(name)].form
    return getattr(normalizers, form)() if form else None


@functools.lru_cache(maxsize=1)
def class_table() -> np.ndarray:
    """The uint16 class table over all code points, cached as .npy keyed by the `regex` version."""
    import regex

    from tokbench.errors import WorkError
    from tokbench.io import atomic_write, cache_dir
    from tokbench.kernels import pretokenize as K

    try:
        path = cache_dir("pretokenize") / f"classes-regex{regex.__version__}-v{K.TABLE_VERSION}.npy"
    except WorkError:  # the folder cannot be made (a full disk): build the table, cache nothing
        return K.build_class_table()
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
    except (OSError, WorkError):  # atomic_write names the path in a WorkError
        pass  # a read-only or full cache only costs the 0.1 s rebuild
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

    gpt2 is HF's own ByteLevel regex; none is a regex-free ByteLevel alone; smollm is Split(\\p{N}) then that ByteLevel
    regex, as SmolLM2's own tokenizer.json and llama.cpp define it; the others are Split(pattern, "isolated")
    (as in Llama-3/Qwen tokenizer.json files), whitespace is HF's Whitespace, each followed by a regex-free ByteLevel
    when `byte_level`."""
    from tokenizers import Regex, pre_tokenizers

    row = preset(name)
    if row.hf == "bytelevel":
        return pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=byte_level)
    if row.hf == "digits" and byte_level:
        return pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(r"\p{N}"), behavior="isolated", invert=False),
                                        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    if row.hf == "none" and byte_level:
        return pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    first = (
        pre_tokenizers.Whitespace()
        if row.hf == "whitespace"
        else pre_tokenizers.Split(Regex(row.hf_pattern), behavior="isolated", invert=False)
    )
    if not byte_level:
        return first
    return pre_tokenizers.Sequence([first, pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
