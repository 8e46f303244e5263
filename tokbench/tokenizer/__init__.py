"""The tokenizer adapter every part of tokbench uses.

`load_tokenizer(spec)` accepts a `tokenizer.json`, a Hugging Face tokenizer folder, a SentencePiece `.model`, a tiktoken
descriptor (see `formats`) or `.tiktoken` ranks file, and zoo names (see `zoo`); every backend answers the `Tokenizer`
interface of `base`. Modules: base (the interface), hf / sentencepiece / tiktoken (one backend each), load (the loader
table), formats (rank files and descriptors), presets (pre-tokenizers and normalizers), fast_bpe (the numba encoder
behind byte-level BPE), convert (SentencePiece -> tokenizer.json), zoo, bytelevel (GPT-2's byte <-> char map).
"""

__all__ = ["Tokenizer", "load_tokenizer"]


def __getattr__(name: str):
    """The two names load on first use (PEP 562): mounting `tokbench zoo`/`tokenize` imports this package, and
    `tokbench --help` must not pay for numpy."""
    if name == "Tokenizer":
        from tokbench.tokenizer.base import Tokenizer

        return Tokenizer
    if name == "load_tokenizer":
        from tokbench.tokenizer.load import load_tokenizer

        return load_tokenizer
    raise AttributeError(f"module 'tokbench.tokenizer' has no attribute {name!r}")
