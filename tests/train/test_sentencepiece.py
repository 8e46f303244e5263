"""`train --algo sp-*` reads its corpus as `spm_train --input=FILE` does: same pieces on a CRLF file."""

import io

import pytest
import sentencepiece as spm

from tokbench.train import backends


@pytest.mark.parametrize("algo", ["sp-bpe", "sp-unigram"])
def test_crlf_file_trains_as_spm_input(cli, tmp_path, english_text, algo):
    corpus = tmp_path / "crlf.txt"
    corpus.write_bytes(english_text[:30000].replace("\n", "\r\n").encode("utf-8"))
    out = tmp_path / "tok"
    assert cli("train", str(corpus), "--algo", algo, "--vocab-size", "500", "-o", str(out)).code == 0
    ours = spm.SentencePieceProcessor(model_file=str(out / "tokenizer.model"))
    reference = io.BytesIO()
    spm.SentencePieceTrainer.train(input=str(corpus), model_writer=reference,
                                   **backends.sentencepiece_options(algo, 500))
    ref = spm.SentencePieceProcessor(model_proto=reference.getvalue())
    pieces = [ours.id_to_piece(i) for i in range(ours.get_piece_size())]
    assert pieces == [ref.id_to_piece(i) for i in range(ref.get_piece_size())]
    assert "\r" in pieces  # the carriage returns were seen, as spm_train sees them
