"""Training through Hugging Face `tokenizers` (bpe, wordpiece) and SentencePiece (unigram, sp-bpe, sp-unigram).

`unigram` runs SentencePiece's unigram trainer: `tokenizers`' UnigramTrainer gives different scores from run to run
(hash-map order), and tokbench promises byte-identical outputs. `wordpiece` uses `tokenizers`' WordPieceTrainer, whose
alphabet order also varies between runs: its output is not reproducible (stated in the README).

Every path ends in a standard tokenizer.json; SentencePiece runs also keep their `.model`. Inputs are streamed line by
line (the way `tokenizers` reads files), so memory follows the vocabulary, not the corpus; SentencePiece gets them as a
temporary file, read as `spm_train --input=FILE` reads one (a CRLF file keeps its `\r`).
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from tokbench.errors import UsageError, WorkError, param
from tokbench.tokenizer import presets

ALGOS = ("bpe", "unigram", "wordpiece", "sp-bpe", "sp-unigram")


def train_hf(lines: Iterable[str], algo: str, vocab_size: int, min_frequency: int = 0,
             special_tokens: Sequence[str] = (), pretokenizer: str = "gpt2", normalizer: str = "none",
             show_progress: bool = True):
    """Train with `tokenizers`' own trainers; returns a `tokenizers.Tokenizer`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    presets.check_trainable(pretokenizer, normalizer)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    specials = list(special_tokens)
    if algo == "bpe":
        tok = Tokenizer(models.BPE())
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=specials,
                                      initial_alphabet=alphabet, show_progress=show_progress)
    elif algo == "wordpiece":
        tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
        specials = specials if "[UNK]" in specials else ["[UNK]", *specials]
        trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                            special_tokens=specials, initial_alphabet=alphabet,
                                            show_progress=show_progress)
    else:
        raise UsageError(f"{param('algo')} {algo!r} is not a tokenizers trainer")
    tok.normalizer = presets.hf_normalizer(normalizer)
    tok.pre_tokenizer = presets.hf_pretokenizer(pretokenizer)
    tok.decoder = decoders.WordPiece() if algo == "wordpiece" else decoders.ByteLevel()
    if algo == "wordpiece":  # WordPiece's "##" pieces only make sense over words, and its decoder is lossy by design
        from tokenizers import normalizers

        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tok.normalizer = normalizers.BertNormalizer(lowercase=False) if normalizer == "none" else tok.normalizer
    tok.train_from_iterator(lines, trainer=trainer)
    return tok


def sentencepiece_options(algo: str, vocab_size: int, special_tokens: Sequence[str] = (), normalizer: str = "none",
                          seed_sentencepiece_size: int = 1_000_000) -> dict:
    """The trainer flags tokbench runs SentencePiece with (byte fallback on, one thread for determinism)."""
    model_type = {"sp-bpe": "bpe", "sp-unigram": "unigram", "unigram": "unigram"}[algo]
    rule = {"none": "identity", "nfc": "identity", "nfkc": "nfkc"}[normalizer]
    return dict(
        vocab_size=vocab_size, model_type=model_type, byte_fallback=True, character_coverage=0.9995,
        normalization_rule_name=rule, num_threads=1, user_defined_symbols=list(special_tokens), bos_id=-1, eos_id=-1,
        unk_id=0, minloglevel=2, remove_extra_whitespaces=False, split_digits=False, max_sentence_length=1 << 16,
        input_sentence_size=0, shuffle_input_sentence=False, hard_vocab_limit=True,
        seed_sentencepiece_size=seed_sentencepiece_size, allow_whitespace_only_pieces=True)


def train_sentencepiece(lines: Iterable[str], algo: str, vocab_size: int, special_tokens: Sequence[str] = (),
                        normalizer: str = "none", seed_sentencepiece_size: int = 1_000_000) -> tuple[bytes, object]:
    """Train SentencePiece (see `sentencepiece_options`); returns (.model bytes, HF tokenizer).

    The lines are handed over as a file (`--input`), not as a sentence iterator: SentencePiece's iterator strips a
    line's trailing `\r`, its file reader keeps it, so only the file route trains on a CRLF file exactly as
    `spm_train --input=FILE` does."""
    import sentencepiece as spm

    from tokbench.tokenizer.convert import sentencepiece_to_hf

    buffer = io.BytesIO()
    options = sentencepiece_options(algo, vocab_size, special_tokens, normalizer, seed_sentencepiece_size)
    with tempfile.TemporaryDirectory(prefix="tokbench-sp-") as tmp:
        text = Path(tmp) / "input.txt"
        try:
            with open(text, "w", encoding="utf-8", newline="") as handle:
                handle.writelines(lines)
        except OSError as exc:  # sentencepiece's input copy, in the temp folder
            from tokbench.io import os_error

            raise os_error(text, exc) from None
        try:
            spm.SentencePieceTrainer.train(input=str(text), model_writer=buffer, **options)
        except RuntimeError as exc:
            import re

            too_high = re.search(r"Vocabulary size too high \((\d+)\)\. Please set it to a value <= (\d+)", str(exc))
            if too_high:  # hard_vocab_limit: sentencepiece cannot make that many pieces from this text
                raise UsageError(f"{param('vocab_size')} is more than sentencepiece can make from this corpus (at most "
                                 f"{too_high.group(2)} pieces)") from None
            raise WorkError(f"sentencepiece training failed: {str(exc).splitlines()[-1]}") from None
        data = _without_input_path(buffer.getvalue())
        path = Path(tmp) / "sp.model"
        path.write_bytes(data)
        hf = sentencepiece_to_hf(path)
    return data, hf


def _without_input_path(model: bytes) -> bytes:
    """The .model with its trainer_spec.input cleared: sentencepiece records the (random) temp file it read, which
    would make two runs on the same corpus differ byte for byte."""
    from sentencepiece import sentencepiece_model_pb2

    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(model)
    del proto.trainer_spec.input[:]
    return proto.SerializeToString(deterministic=True)
