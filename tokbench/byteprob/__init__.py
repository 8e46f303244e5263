"""Exact byte-level probabilities from tokenized LMs (covers with canonical-validity masks).

The names below load on first use (PEP 562): importing the package, as `tokbench --help` does to mount `tokbench
bytes`, must not import numba."""

__all__ = ["ByteLM", "ByteState", "TokenLM", "EOT"]


def __getattr__(name: str):
    if name in __all__:
        from tokbench.byteprob import core

        return getattr(core, name)
    raise AttributeError(f"module 'tokbench.byteprob' has no attribute {name!r}")
