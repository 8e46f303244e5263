"""Fair comparison of an original and a transplanted model: bits per byte on the same held-out text."""

from __future__ import annotations


def compare(original, transplanted, texts: list[str], context: int = 1024, stride: int | None = None,
            batch_size: int = 8, progress: bool = True) -> dict:
    """bits per byte of both LMs on `texts` and their ratio (new / original; below 1 is better)."""
    a = original.bits_per_byte(texts, context=context, stride=stride, batch_size=batch_size, progress=progress)
    b = transplanted.bits_per_byte(texts, context=context, stride=stride, batch_size=batch_size, progress=progress)
    return {
        "original_bits_per_byte": a["bits_per_byte"],
        "new_bits_per_byte": b["bits_per_byte"],
        "ratio": b["bits_per_byte"] / a["bits_per_byte"],
        "original_tokens": a["tokens"],
        "new_tokens": b["tokens"],
        "bytes": a["bytes"],
    }
