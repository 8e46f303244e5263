import gzip
import json

import pytest

from tokbench.corpus import Corpus
from tokbench.errors import InputError, UsageError


def test_files_folders_globs_gz_jsonl(tmp_path):
    (tmp_path / "a.txt").write_text("alpha\nbeta\n", encoding="utf-8")
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "b.txt").write_text("gamma", encoding="utf-8")
    with gzip.open(tmp_path / "c.txt.gz", "wt", encoding="utf-8") as handle:
        handle.write("delta\n")
    (tmp_path / "d.jsonl").write_text(json.dumps({"body": "eps\nzeta"}) + "\n\n" + json.dumps({"body": "eta"}) + "\n")

    assert list(Corpus([str(tmp_path / "a.txt")]).lines()) == ["alpha\n", "beta\n"]
    assert list(Corpus([str(sub)]).documents()) == ["gamma"]
    assert list(Corpus([str(tmp_path / "*.txt*")]).documents()) == ["alpha\nbeta\n", "delta\n"]
    assert list(Corpus([str(tmp_path / "d.jsonl")], text_field="body").documents()) == ["eps\nzeta", "eta"]
    assert list(Corpus([str(tmp_path / "d.jsonl")], text_field="body").lines()) == ["eps\n", "zeta", "eta"]
    # a folder is read recursively in sorted order, hidden files skipped
    (tmp_path / ".hidden").write_text("no", encoding="utf-8")
    docs = list(Corpus([str(tmp_path)], text_field="body").documents())
    assert docs == ["alpha\nbeta\n", "delta\n", "eps\nzeta", "eta", "gamma"]


def test_invalid_utf8_names_file_and_offset(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"good line\nabc\xff\xfedef\n")
    with pytest.raises(InputError, match=r"bad\.txt: invalid UTF-8 at byte offset 13"):
        list(Corpus([str(bad)]).lines())
    with pytest.raises(InputError, match=r"byte offset 13"):
        list(Corpus([str(bad)]).documents())
    assert list(Corpus([str(bad)], errors="replace").lines())[1] == "abc\ufffd\ufffddef\n"


@pytest.mark.parametrize("setup,message", [
    (lambda p: None, "no such file"),
    (lambda p: p.mkdir(), "holds no files"),
    (lambda p: p.write_bytes(b"\x7fELF\x00\x00\x01binary"), "binary"),
    (lambda p: p.write_text(""), "empty"),
])
def test_bad_inputs(tmp_path, setup, message):
    target = tmp_path / "input"
    setup(target)
    with pytest.raises(InputError, match=message):
        list(Corpus([str(target)]).lines())


def test_bad_jsonl_and_usage(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"text": "ok"}\n{"other": 1}\n')
    with pytest.raises(InputError, match=r"x\.jsonl:2: no field 'text'"):
        list(Corpus([str(path)]).documents())
    with pytest.raises(UsageError):
        Corpus([])
    with pytest.raises(UsageError):
        Corpus([str(path)], errors="ignore")
