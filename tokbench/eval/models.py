"""Model metrics for eval records, so the CI gate covers tokenized LMs as well as tokenizers.

`bits_per_byte` is token-level (the model's own tokenizer, total NLL / (ln 2 x UTF-8 bytes), `tokbench.lm`) over the
first `max_bytes` of a corpus; `exact_bits_per_byte` is byte-level (`tokbench.byteprob`, Phan et al.'s covers) over the
first `exact_bytes` bytes of the corpus, which costs one incremental LM call per byte, hence the small default.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tokbench.corpus import head


@dataclass
class ModelScorer:
    """One loaded LM: its tokenizer (evaluated like any other) and the two bits-per-byte measures."""

    spec: str
    max_bytes: int = 100_000
    exact_bytes: int = 128
    context: int = 1024

    def __post_init__(self) -> None:
        from tokbench.byteprob import ByteLM
        from tokbench.byteprob.models import token_lm
        from tokbench.lm import load_lm

        self.lm = load_lm(self.spec)
        self.tokenizer = self.lm.tokenizer
        self.byte_lm = ByteLM(self.tokenizer, token_lm(self.lm))

    def score(self, documents: Iterable[str], allow_special: bool = False) -> dict:
        """allow_special: the token-level figure reads special-token text as those tokens (as the tokenizer's own
        record does under `eval --allow-special`); the exact byte-level walk reads every byte as text."""
        import dataclasses

        from tokbench.byteprob.commands import exact_bits_per_byte

        docs = list(head(documents, self.max_bytes))
        lm = dataclasses.replace(self.lm, tokenizer=self.lm.tokenizer.allowing_special()) if allow_special else self.lm
        token_level = lm.bits_per_byte(docs, context=self.context, progress=False)
        exact = {}
        if self.exact_bytes:
            first = list(head(docs, self.exact_bytes))
            exact = exact_bits_per_byte(self.byte_lm, first, max_bytes=self.exact_bytes)
        return {"bits_per_byte": token_level["bits_per_byte"], "exact_bits_per_byte": exact.get("exact_bits_per_byte")}
