"""Exact byte-level probabilities from tokenized LMs (covers with canonical-validity masks)."""

from tokbench.byteprob.core import EOT, ByteLM, ByteState, TokenLM

__all__ = ["ByteLM", "ByteState", "TokenLM", "EOT"]
