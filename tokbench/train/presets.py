"""The pre-tokenizer and normaliser names `tokbench train` accepts, as Hugging Face `tokenizers` components.

The presets themselves live in `tokbench.pretok` (one regex per preset, reproduced exactly by the numba scanners), so a
tokenizer.json written by either engine, and the word counts behind it, split text the same way.
"""

from __future__ import annotations

from tokbench import pretok
from tokbench.errors import UsageError

PRETOKENIZERS = pretok.PRETOKENIZERS
NORMALIZERS = ("nfc", "nfkc", "none")


def check(pretokenizer: str, normalizer: str) -> None:
    if pretokenizer not in PRETOKENIZERS:
        raise UsageError(f"--pretokenizer must be one of {', '.join(PRETOKENIZERS)}, not {pretokenizer!r}")
    if normalizer not in NORMALIZERS:
        raise UsageError(f"--normalizer must be one of {', '.join(NORMALIZERS)}, not {normalizer!r}")


def hf_pretokenizer(name: str):
    """Split like the preset, then map bytes to GPT-2's printable alphabet (byte-level BPE)."""
    return pretok.hf_pretokenizer(name)


def hf_normalizer(name: str):
    from tokenizers import normalizers

    return {"nfc": normalizers.NFC, "nfkc": normalizers.NFKC}.get(name, lambda: None)()
