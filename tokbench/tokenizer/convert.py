"""SentencePiece `.model` -> `tokenizers.Tokenizer`, so every tokenizer tokbench writes is a standard tokenizer.json.

transformers 5 dropped the converter's old entry points; we keep its merge generator (`generate_merges`) and assemble
the pipeline ourselves: Llama-style normaliser (dummy prefix, spaces as `▁`), byte fallback, and a decoder that undoes
both.

BPE merges are ranked the way SentencePiece encodes: it merges the adjacent pair whose joined piece scores highest, so
a merge's rank is its piece's score (highest first), as transformers' `SpmConverter` ranks them. Ranking by piece id
instead is wrong wherever ids and scores disagree: Llama/Mistral models list `▁▁` early but score it last, and the
id order then gives `"a  b"` as `▁a ▁▁ b` where SentencePiece gives `▁a ▁ ▁b`. Unigram models keep their scores; their
Viterbi ties (equal-score segmentations) can still break differently in `tokenizers` (same score, same text).
"""

from __future__ import annotations

from pathlib import Path

from tokbench.errors import InputError

SPIECE_UNDERLINE = "▁"


def sentencepiece_to_hf(path: str | Path):
    from sentencepiece import sentencepiece_model_pb2 as pb
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers.convert_slow_tokenizer import generate_merges

    path = Path(path)
    proto = pb.ModelProto()
    try:
        proto.ParseFromString(path.read_bytes())
    except Exception:
        raise InputError(f"{path}: not a valid SentencePiece model") from None
    spec, norm_spec = proto.trainer_spec, proto.normalizer_spec
    byte_fallback = bool(spec.byte_fallback)
    unk_piece = proto.pieces[spec.unk_id].piece if 0 <= spec.unk_id < len(proto.pieces) else None
    if spec.model_type == 2:  # BPE
        vocab = {p.piece: i for i, p in enumerate(proto.pieces)}
        merges = generate_merges(vocab, {p.piece: p.score for p in proto.pieces})  # by score, highest first
        model = models.BPE(vocab=vocab, merges=merges, unk_token=unk_piece, byte_fallback=byte_fallback, fuse_unk=True)
    else:
        model = models.Unigram([(p.piece, p.score) for p in proto.pieces], unk_id=spec.unk_id,
                               byte_fallback=byte_fallback)
    tok = Tokenizer(model)

    steps = []
    charsmap = norm_spec.precompiled_charsmap
    if charsmap:
        steps.append(normalizers.Precompiled(charsmap))
    if norm_spec.remove_extra_whitespaces:
        steps += [normalizers.Strip(left=True, right=True), normalizers.Replace(Regex(" {2,}"), " ")]
    if norm_spec.add_dummy_prefix:
        steps.append(normalizers.Prepend(SPIECE_UNDERLINE))
    steps.append(normalizers.Replace(" ", SPIECE_UNDERLINE))
    if spec.split_by_whitespace:  # SentencePiece's words start at a space ...
        if spec.allow_whitespace_only_pieces:  # ... or at a run of spaces, which stays with the word after it
            word = Regex(f"[^{SPIECE_UNDERLINE}]+|{SPIECE_UNDERLINE}+[^{SPIECE_UNDERLINE}]*")
            tok.pre_tokenizer = pre_tokenizers.Split(word, behavior="isolated")
        else:
            tok.pre_tokenizer = pre_tokenizers.Split(SPIECE_UNDERLINE, behavior="merged_with_next")
    if steps:
        tok.normalizer = normalizers.Sequence(steps)
    strip = [decoders.Strip(content=" ", left=1, right=0)] if norm_spec.add_dummy_prefix else []
    tok.decoder = decoders.Sequence([decoders.Replace(SPIECE_UNDERLINE, " "), decoders.ByteFallback(),
                                     decoders.Fuse(), *strip])
    added = [AddedToken(p.piece, special=p.type in (2, 3), normalized=False) for p in proto.pieces
             if p.type in (2, 3, 4)]  # unknown and control pieces are special, user-defined ones plain text
    control = [a for a in added if a.special]
    user = [a for a in added if not a.special]
    if control:
        tok.add_special_tokens(control)
    bos = proto.pieces[spec.bos_id].piece if 0 <= spec.bos_id < len(proto.pieces) else None
    if bos is not None:  # as Llama/Mistral tokenizers do: <s> leads every encoding that asks for special tokens
        tok.post_processor = processors.TemplateProcessing(single=f"{bos} $A", pair=f"{bos} $A {bos} $B",
                                                           special_tokens=[(bos, spec.bos_id)])
    if user:
        tok.add_tokens(user)
    return tok
