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


# --- shards: byte ranges cut at line ends read exactly what the whole file reads ------------------------------------
def _shard_lines(corpus, size, **kw):
    return [line for shard in corpus.shards(size, **kw) for line in shard.lines()]


@pytest.mark.parametrize("size", [1, 7, 64, 10**6])
def test_shards_cut_at_line_ends_and_cover_every_line(tmp_path, size, monkeypatch):
    from tokbench import corpus as corpus_module
    from tokbench.corpus import group_shards

    text = "".join(f"line {i} {'x' * (i % 13)}\n" for i in range(50)) + "no final newline"
    (tmp_path / "a.txt").write_text(text, encoding="utf-8")
    (tmp_path / "b.txt").write_text("", encoding="utf-8")  # an empty file is an empty shard
    (tmp_path / "c.jsonl").write_text("".join(json.dumps({"text": f"r{i}\nsecond"}) + "\n" for i in range(9)))
    with gzip.open(tmp_path / "d.txt.gz", "wt", encoding="utf-8") as handle:
        handle.write("gz line\n" * 20)  # compressed files are never cut
    corpus = Corpus([str(tmp_path)])
    shards = corpus.shards(size)
    assert _shard_lines(corpus, size) == list(corpus.lines())
    monkeypatch.setattr(corpus_module, "BLOCK_SIZE", 50)  # tiny blocks: some lines are longer than one
    blocks = [b for shard in shards for b in shard.blocks()]
    assert "".join(blocks) == "".join(corpus.lines())
    assert all(b.endswith("\n") for s in shards if s.path.endswith("a.txt") for b in list(s.blocks())[:-1])
    raw = (tmp_path / "a.txt").read_bytes()
    for shard in shards:
        if shard.path.endswith("a.txt") and shard.start:
            assert raw[shard.start - 1:shard.start] == b"\n"  # every cut follows a line end
    assert sum(s.path.endswith("d.txt.gz") for s in shards) == 1
    assert sum(s.path.endswith("b.txt") for s in shards) == 1
    if size == 7:
        assert sum(s.path.endswith("a.txt") for s in shards) > 20 and sum(s.path.endswith("c.jsonl") for s in shards) > 3
    # documents: a plain file stays one document (split_text=False), JSONL records are cut between records
    docs = [d for s in corpus.shards(size, split_text=False) for d in s.documents()]
    assert docs == list(corpus.documents())
    # packing keeps the order and every shard once
    groups = group_shards(shards, size)
    assert [s for g in groups for s in g] == shards


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_tasks_are_a_multiple_of_the_workers_and_even(tmp_path, workers):
    """One big file and a folder of uneven small files: every byte lands in exactly one task, tasks come in whole
    rounds of the workers, and no task is more than one shard (plus a line) away from the mean."""
    line = "x" * 99 + "\n"
    (tmp_path / "big.txt").write_text(line * 120_000)  # 12 MB, cut into byte ranges
    small = tmp_path / "small"
    small.mkdir()
    for i in range(40):
        (small / f"{i:02d}.txt").write_text(line * (50 * (1 + i % 7)))  # 5-35 KB files, packed together
    for spec, shard_size in [(tmp_path / "big.txt", 1 << 30), (tmp_path / "big.txt", 400_000), (small, 1 << 30)]:
        corpus = Corpus([str(spec)])
        tasks = corpus.tasks(shard_size, workers)
        shards = [s for task in tasks for s in task]
        assert "".join(b for s in shards for b in s.blocks()) == "".join(corpus.blocks())
        sizes = [sum(s.size() for s in task) for task in tasks]
        if spec == small:  # 0.8 MB: below the 1 MB floor a task has, so one task
            assert len(tasks) == 1
            continue
        assert len(tasks) % workers == 0 and len(tasks) >= 4 * workers  # 12 MB: room for four 1 MB tasks each
        assert max(sizes) <= shard_size + len(line)
        assert max(sizes) - min(sizes) <= 2 * len(line) + 1


def test_bad_input_in_a_later_shard_names_file_and_offset(tmp_path, monkeypatch):
    from tokbench import corpus as corpus_module

    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"good line\n" * 30 + b"abc\xffdef\n" + b"more\n" * 5)
    corpus = Corpus([str(bad)])
    with pytest.raises(InputError) as whole:
        list(corpus.lines())
    with pytest.raises(InputError) as sharded:
        _shard_lines(corpus, 40)
    with pytest.raises(InputError) as blocks:
        monkeypatch.setattr(corpus_module, "BLOCK_SIZE", 64)
        [b for shard in corpus.shards(40) for b in shard.blocks()]
    assert str(blocks.value) == str(whole.value)
    assert str(sharded.value) == str(whole.value) == f"{bad}: invalid UTF-8 at byte offset 303 (use --errors replace)"
    js = tmp_path / "bad.jsonl"
    js.write_text(json.dumps({"text": "ok"}) + "\n" * 1 + (json.dumps({"text": "ok"}) + "\n") * 20 + "{broken\n")
    offset = js.read_bytes().rindex(b"{broken")
    with pytest.raises(InputError, match=rf"bad\.jsonl: record at byte offset {offset}: invalid JSON"):
        _shard_lines(Corpus([str(js)]), 50)
    with pytest.raises(UsageError, match="stdin"):
        Corpus(["-"]).shards()


def test_urls_open_through_fsspec_and_shard(tmp_path):
    """A remote cluster reads URLs (fsspec): a file:// URL reads and shards like the path itself."""
    path = tmp_path / "u.txt"
    path.write_text("".join(f"line {i}\n" for i in range(500)), encoding="utf-8")
    url = Corpus([path.as_uri()])
    assert list(url.lines()) == list(Corpus([str(path)]).lines())
    assert len(url.shards(100)) > 10 and _shard_lines(url, 100) == list(url.lines())
    with pytest.raises(InputError, match="no such file"):
        list(Corpus([(tmp_path / "none.txt").as_uri()]).lines())
