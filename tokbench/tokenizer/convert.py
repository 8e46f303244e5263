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


# GGUF `tokenizer.ggml.pre` -> the pre-tokenizer preset llama.cpp's llama-vocab.cpp runs for it. transformers' GGUF
# loader ignores this key (it writes GPT-2's ByteLevel for every byte-level BPE), so the converted tokenizer.json gets
# its pre-tokenizer from here; a value not listed is refused rather than guessed.
GGUF_PRETOKENIZERS = {
    "gpt-2": "gpt2",
    "smollm": "smollm",  # \p{N} isolated first, then GPT-2's regex (SmolLM, SmolLM2)
    "llama-bpe": "llama3",
    "llama3": "llama3",
    "llama-v3": "llama3",
    "qwen2": "qwen2",
}


def gguf_metadata(path: str | Path, *keys: str) -> dict[str, str | None]:
    """String values of GGUF metadata keys (None where absent)."""
    from gguf import GGUFReader

    try:
        reader = GGUFReader(str(path))
    except Exception as exc:
        raise InputError(f"{path}: not a readable GGUF file ({exc})") from None
    out: dict[str, str | None] = {}
    for key in keys:
        field = reader.fields.get(key)
        out[key] = bytes(field.parts[field.data[0]]).decode("utf-8") if field is not None and field.data else None
    return out


def gguf_pretokenizer(pre: str | None, model: str | None, source: str = "GGUF") -> dict | None:
    """The tokenizer.json pre_tokenizer for a GGUF tokenizer's (tokenizer.ggml.pre, tokenizer.ggml.model); None keeps
    the converted one (SentencePiece-style `llama` vocabularies, which have no split regex)."""
    import json

    from tokbench.tokenizer import presets

    if model != "gpt2":
        return None
    name = GGUF_PRETOKENIZERS.get(pre or "")
    if name is None:
        raise InputError(f"{source}: tokenizer.ggml.pre = {pre!r} is not a pre-tokenizer tokbench knows "
                         f"(known: {', '.join(GGUF_PRETOKENIZERS)})")
    from tokenizers import Tokenizer, models

    holder = Tokenizer(models.BPE())
    holder.pre_tokenizer = presets.hf_pretokenizer(name)
    return json.loads(holder.to_str())["pre_tokenizer"]


def save_gguf_tokenizer(gguf: str | Path, folder: str | Path) -> None:
    """Write the GGUF's tokenizer as a Hugging Face tokenizer folder (tokenizer.json with the pre-tokenizer the GGUF
    names, see GGUF_PRETOKENIZERS)."""
    import json

    from transformers import AutoTokenizer

    gguf, folder = Path(gguf), Path(folder)
    meta = gguf_metadata(gguf, "tokenizer.ggml.pre", "tokenizer.ggml.model")
    pre = gguf_pretokenizer(meta["tokenizer.ggml.pre"], meta["tokenizer.ggml.model"], str(gguf))
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    tokenizer.save_pretrained(str(folder))
    path = folder / "tokenizer.json"
    if not path.is_file():
        raise InputError(f"{gguf}: transformers saved no tokenizer.json for the GGUF tokenizer")
    if pre is not None:
        spec = json.loads(path.read_text(encoding="utf-8"))
        spec["pre_tokenizer"] = pre
        path.write_text(json.dumps(spec, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
