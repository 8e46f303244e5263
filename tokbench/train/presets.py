"""Pre-tokenizer and normaliser presets shared by every trainer, as Hugging Face `tokenizers` components.

The numba engine mirrors these exactly (its scanners reproduce the same regexes), so a tokenizer.json written by either
engine encodes the same way.
"""

from __future__ import annotations

PATTERNS = {
    "gpt2": r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""",
    "cl100k": r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+""",
    "llama3": r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""",
    "whitespace": r"""\w+|[^\w\s]+|\s+""",
}
PRETOKENIZERS = ("gpt2", "cl100k", "llama3", "whitespace", "none")
NORMALIZERS = ("nfc", "nfkc", "none")


def check(pretokenizer: str, normalizer: str) -> None:
    from tokbench.errors import UsageError

    if pretokenizer not in PRETOKENIZERS:
        raise UsageError(f"--pretokenizer must be one of {', '.join(PRETOKENIZERS)}, not {pretokenizer!r}")
    if normalizer not in NORMALIZERS:
        raise UsageError(f"--normalizer must be one of {', '.join(NORMALIZERS)}, not {normalizer!r}")


def hf_pretokenizer(name: str):
    """Byte-level pre-tokenization: split with the preset's regex, then map bytes to GPT-2's printable alphabet."""
    from tokenizers import Regex, pre_tokenizers

    if name == "gpt2":  # exactly the reference configuration HF users train with
        return pre_tokenizers.ByteLevel(add_prefix_space=False)
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    if name == "none":
        return byte_level
    return pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(PATTERNS[name]), behavior="isolated"), byte_level])


def hf_normalizer(name: str):
    from tokenizers import normalizers

    return {"nfc": normalizers.NFC, "nfkc": normalizers.NFKC}.get(name, lambda: None)()
