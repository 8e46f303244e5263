"""The tokenizer adapter every part of tokbench uses.

`load_tokenizer(spec)` accepts a `tokenizer.json`, a Hugging Face tokenizer folder, a SentencePiece `.model`, a tiktoken
descriptor (see `formats`) or `.tiktoken` ranks file, and zoo names (see `zoo`); every backend answers the `Tokenizer`
interface of `base`. Modules: base (the interface), hf / sentencepiece / tiktoken (one backend each), load (the loader
table), formats (rank files and descriptors), presets (pre-tokenizers and normalizers), fast_bpe (the numba encoder
behind byte-level BPE), convert (SentencePiece -> tokenizer.json), zoo, bytelevel (GPT-2's byte <-> char map).
"""

from tokbench.tokenizer.base import Tokenizer
from tokbench.tokenizer.load import load_tokenizer

__all__ = ["Tokenizer", "load_tokenizer"]
