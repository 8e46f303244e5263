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
        """allow_special: both figures read special-token text as those tokens, as the tokenizer's own record does
        under `eval --allow-special`: the token-level one through the allowing tokenizer, the exact byte-level one
        through `ByteLM(allowed_special="all")`, each special token one event, as `bytes bpb --allow-special` does."""
        import dataclasses

        docs = list(head(documents, self.max_bytes))
        lm = dataclasses.replace(self.lm, tokenizer=self.lm.tokenizer.allowing_special()) if allow_special else self.lm
        token_level = lm.bits_per_byte(docs, context=self.context, progress=False)
        return {"bits_per_byte": token_level["bits_per_byte"], **self._exact(docs, allow_special)}

    def _exact(self, docs: list[str], allow_special: bool) -> dict:
        """exact_bits_per_byte over the first exact_bytes of the documents (null with exact_bytes 0: off).

        Where the byte walk cannot read the special tokens (a tokenizer with a dummy prefix, which `ByteLM` refuses
        with allowed specials), the figure is null with a `reason`, not the plain-text walk in its place (that would
        be another reading of the text under the same column) and not a refusal of the run: eval records a figure it
        cannot compute as null and keeps the others (the code metrics of a corpus without Python, a tokenizer's
        bits_per_byte), and here the token-level bits_per_byte and every tokenizer's record are computed; the reason
        says why, as JSON nulls elsewhere do (`tokbench.io.format_records`, the byte commands' records); a gate of
        exact_bits_per_byte against a baseline number fails closed on the null (`gate.uncomparable`)."""
        from tokbench.byteprob.commands import exact_bits_per_byte

        if not self.exact_bytes:
            return {"exact_bits_per_byte": None}
        blm = self.byte_lm
        if allow_special:
            why = blm.special_refusal()
            if why:
                return {"exact_bits_per_byte": None, "reason": f"exact_bits_per_byte is null: {why}"}
            blm = self._special_byte_lm()
        exact = exact_bits_per_byte(blm, list(head(docs, self.exact_bytes)), max_bytes=self.exact_bytes)
        return {"exact_bits_per_byte": exact.get("exact_bits_per_byte")}

    def _special_byte_lm(self):
        """The byte-level LM that reads the tokenizer's special tokens (built once, on the same token LM)."""
        if getattr(self, "_special_blm", None) is None:
            from tokbench.byteprob import ByteLM

            self._special_blm = ByteLM(self.tokenizer, self.byte_lm.lm, allowed_special="all")
        return self._special_blm
