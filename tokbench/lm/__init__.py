"""Causal language models (`core`): load one (HF folder, GGUF file, zoo name), score text in bits per byte, feed tokens
incrementally with a KV cache.

The names load on first use (PEP 562): mounting `tokbench lm` imports this package, and `tokbench --help` must not pay
for numpy or torch."""

__all__ = ["LM", "load_lm", "resolve_model", "smollm2_folder", "ZOO_MODELS", "WEIGHT_FILES"]


def __getattr__(name: str):
    if name in __all__:
        from tokbench.lm import core

        return getattr(core, name)
    raise AttributeError(f"module 'tokbench.lm' has no attribute {name!r}")
