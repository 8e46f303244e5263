"""Fair comparison of an original and a transplanted model: bits per byte on the same held-out text."""

from __future__ import annotations

from tokbench.corpus import Corpus
from tokbench.errors import InputError


def read_texts(specs: list[str], max_bytes: int | None = None) -> list[str]:
    """Documents of a corpus, cut to at most `max_bytes` UTF-8 bytes in total (at a character boundary)."""
    texts, total = [], 0
    for doc in Corpus(list(specs)).documents():
        if max_bytes is not None and total + len(doc.encode("utf-8")) > max_bytes:
            room = max_bytes - total
            cut = doc.encode("utf-8")[:room].decode("utf-8", errors="ignore")
            if cut:
                texts.append(cut)
            break
        texts.append(doc)
        total += len(doc.encode("utf-8"))
    if not any(texts):
        raise InputError(f"{', '.join(specs)}: no text to score")
    return texts


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
