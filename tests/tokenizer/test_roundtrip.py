"""Every zoo tokenizer on every bundled corpus: lossless round trips and exact token bytes."""

import pytest

from tokbench.corpus import BUNDLED_ROOT, Corpus
from tokbench.tokenizer import zoo
from tokbench.tokenizer import load_tokenizer

CORPORA = sorted(str(p.relative_to(BUNDLED_ROOT)) for p in BUNDLED_ROOT.glob("*/") if p.is_dir()
                 and p.name not in ("full",))


@pytest.fixture(scope="module")
def documents():
    return {name: list(Corpus([str(BUNDLED_ROOT / name)]).documents()) for name in CORPORA}


def test_bundled_corpora_present():
    assert {"en-tech", "en-dict", "code-py", "legal", "multi", "parallel", "pairs"} <= set(CORPORA)


@pytest.mark.parametrize("name", zoo.names())
def test_roundtrip_and_token_bytes(name, documents):
    tok = load_tokenizer(name)
    for corpus, docs in documents.items():
        batch = tok.encode_batch(docs)
        for doc, ids in zip(docs, batch):
            if tok.roles["unk"] in ids:  # [UNK] stands for bytes it does not keep
                assert not tok.lossless
                continue
            assert tok.decode_bytes(ids) == tok.prepare(doc), (name, corpus)
            if tok.byte_level:
                assert tok.decode_bytes(ids) == doc.encode("utf-8")
            if tok.lossless:
                assert tok.decode(ids) == doc, (name, corpus)
    assert tok.lossless == (name != "bert-base-uncased")
