"""SentencePiece backend: a `.model` file (BPE or unigram, with or without byte fallback)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tokbench.errors import InputError
from tokbench.tokenizer.base import SPIECE_UNDERLINE, Tokenizer


class SentencePieceTokenizer(Tokenizer):
    """A SentencePiece `.model` (BPE or unigram, with or without byte fallback)."""

    def __init__(self, path: str | Path, name: str = ""):
        import sentencepiece as spm

        self.path = Path(path)
        self.name = name or self.path.name
        try:
            self._sp = spm.SentencePieceProcessor(model_file=str(path))
            self._norm = spm.SentencePieceNormalizer(model_file=str(path))
        except (RuntimeError, OSError) as exc:
            raise InputError(f"{path}: not a valid SentencePiece model: {str(exc).splitlines()[0]}") from None
        sp = self._sp
        n = sp.get_piece_size()
        self._pieces = [sp.id_to_piece(i) for i in range(n)]
        self._control = {i for i in range(n) if sp.is_control(i) or sp.is_unknown(i)}
        self._bytes_ids = {i for i in range(n) if sp.is_byte(i)}
        self.byte_fallback = bool(self._bytes_ids)
        self.model_type = "bpe" if _sp_model_type(sp) == 2 else "unigram"
        self.special_tokens = {self._pieces[i]: i for i in sorted(self._control)}
        self.roles = {role: (i if i >= 0 else None) for role, i in
                      (("bos", sp.bos_id()), ("eos", sp.eos_id()), ("pad", sp.pad_id()), ("unk", sp.unk_id()))}
        self.lossless = self.byte_fallback
        self._piece_ids = {p: i for i, p in enumerate(self._pieces)}

    @property
    def vocab_size(self) -> int:
        return len(self._pieces)

    def encode(self, text: str, add_special_tokens: bool = False, allowed_special=None) -> list[int]:
        return self.encode_batch([text], add_special_tokens, allowed_special)[0]

    def encode_batch(self, texts: Sequence[str], add_special_tokens: bool = False,
                     allowed_special=None) -> list[list[int]]:
        """SentencePiece reads control pieces (`<s>`) as text; allowed ones are cut out first, as tiktoken does."""
        allowed = self._allowed(allowed_special)
        bos = [self.roles["bos"]] if add_special_tokens and self.roles["bos"] is not None else []
        if not allowed:
            return [bos + ids for ids in self._sp.encode(list(texts))]
        return [bos + self._split_special(t, allowed, self._sp.encode) for t in texts]

    def decode(self, ids: Sequence[int]) -> str:
        return self._sp.decode([int(i) for i in ids])

    def id_to_token(self, token_id: int) -> str:
        return self._pieces[int(token_id)]

    def token_to_id(self, token: str) -> int | None:
        return self._piece_ids.get(token)

    def token_bytes(self, token_id: int) -> bytes:
        token_id = int(token_id)
        if token_id in self._control:
            return self._special_bytes(token_id)
        piece = self._pieces[token_id]
        if token_id in self._bytes_ids:
            return bytes([int(piece[3:5], 16)])
        return piece.replace(SPIECE_UNDERLINE, " ").encode("utf-8")

    def prepare(self, text: str) -> bytes:
        return self._norm.normalize(text).replace(SPIECE_UNDERLINE, " ").encode("utf-8")

    def hf(self):
        from tokbench.tokenizer.convert import sentencepiece_to_hf

        return sentencepiece_to_hf(self.path)


def _sp_model_type(sp) -> int:
    from sentencepiece import sentencepiece_model_pb2 as pb

    proto = pb.ModelProto()
    proto.ParseFromString(sp.serialized_model_proto())
    return proto.trainer_spec.model_type

