"""Class 3: writes that fail are errors. stdout on a full disk, a file size limit on an output, a closed pipe."""

from __future__ import annotations

import subprocess

import pytest

from tests.reliability.conftest import command, _env, leftovers


def test_stdout_on_a_full_disk_fails(tb, corpus):
    with open("/dev/full", "wb") as full:
        r = tb("tokenize", "-t", "gpt2", corpus, stdout=full)
    assert r.code == 1
    r.one_line("stdout", "No space left on device")


@pytest.mark.parametrize("args", [["zoo", "--format", "json"], ["tokenize", "-t", "gpt2", "--format", "count", "{c}"],
                                  ["eval", "-t", "gpt2", "-c", "{c}", "--format", "jsonl"]])
def test_small_stdout_on_a_full_disk_fails(tb, corpus, args):
    """Even output smaller than the buffer (written only at exit) is checked."""
    with open("/dev/full", "wb") as full:
        r = tb(*[str(corpus) if a == "{c}" else a for a in args], stdout=full)
    assert r.code == 1
    r.one_line("stdout", "No space left on device")


def test_closed_pipe_stays_quiet(tmp_path, corpus):
    proc = subprocess.Popen(command(["tokenize", "-t", "gpt2", corpus]), cwd=tmp_path, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    assert proc.stdout.read(10)
    proc.stdout.close()  # `| head -c 10`
    proc.wait(timeout=120)
    assert proc.stderr.read() == b""


@pytest.mark.parametrize("args,out,created", [
    (["train", "{c}", "--vocab-size", "300", "-o", "{o}"], "new/sub/tok.json", "new"),
    (["train", "{c}", "--vocab-size", "300", "-o", "{o}"], "new/tokdir", "new"),
    (["count", "{c}", "-o", "{o}"], "new/counts.parquet", "new"),
    (["eval", "-t", "gpt2", "-c", "{c}", "-o", "{o}"], "new/report", "new"),
    (["eval", "-t", "gpt2", "-c", "{c}", "--per-document", "{o}"], "docs.jsonl", None),
])
def test_full_disk_on_an_output_names_it_and_leaves_nothing(tb, tmp_path, corpus, args, out, created):
    """RLIMIT_FSIZE (writes past 1 KB fail, as on a full disk): one line naming the output and the OS's reason; no
    output, no temps, and no folders the run created."""
    target = tmp_path / out
    r = tb(*[a.replace("{c}", str(corpus)).replace("{o}", str(target)) for a in args], fsize=100)
    assert r.code == 1
    r.one_line(target.name, "File too large")
    assert not target.exists()
    assert leftovers(tmp_path) == []
    if created:
        assert not (tmp_path / created).exists()


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory):
    """A real (randomly initialised) Llama folder with GPT-2's tokenizer: what `hypernet train --model` loads."""
    import shutil

    from tokbench.byteprob.hf import tiny_random_llama
    from tokbench.tokenizer import zoo

    folder = tmp_path_factory.mktemp("lm") / "tiny"
    tiny_random_llama(50257).save_pretrained(folder)
    shutil.copy(zoo.resolve("gpt2"), folder / "tokenizer.json")
    return folder


def test_hypernet_train_on_a_full_disk_leaves_no_folder(tb, tmp_path, corpus, tiny_lm):
    out = tmp_path / "new" / "hn"
    r = tb("hypernet", "train", "--model", tiny_lm, "--corpus", corpus, "-o", out, "--steps", "2",
           "--warmup-steps", "1", "--save-every", "1", "--vocab-min", "300", "--vocab-max", "400", fsize=1000)
    assert r.code == 1
    r.one_line("checkpoint.pt", "cannot write")
    assert not (tmp_path / "new").exists() and leftovers(tmp_path) == []


def test_cold_kernel_cache_on_a_full_disk_compiles_in_memory(tb, tmp_path, corpus):
    """numba writes its cache as it compiles: with a cold cache and no room, the command still does its work (the
    kernels compiled in memory) and says once, naming the folder, that the cache cannot be written."""
    from tokenizers import Tokenizer

    from tests.helpers import NPM_FILES

    cold = tmp_path / "cold"
    # NUMBA_CACHE_DIR emptied: importing tokbench.kernels in this process (another test) sets it to the warm cache
    r = tb("tokenize", "-t", NPM_FILES["gpt2"], corpus, fsize=4096,
           env={"TOKBENCH_CACHE": str(cold), "NUMBA_CACHE_DIR": ""})
    assert r.code == 0, r.err
    expected = Tokenizer.from_file(str(NPM_FILES["gpt2"])).encode(corpus.read_text(encoding="utf-8")).ids
    assert r.out == " ".join(map(str, expected)) + "\n"
    lines = r.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("tokbench: warning: cannot write the kernel cache in "), r.err
    assert str(cold / "numba") in lines[0] and "File too large" in lines[0]
    assert not [p for p in cold.rglob("*") if ".tmp" in p.name]  # numba's own temps removed


def test_kernel_cache_that_is_not_a_folder_is_one_line_and_never_the_source_tree(tb, tmp_path, corpus):
    """numba, unable to make its cache folder, would fall back to writing beside the source (tokbench/kernels/
    __pycache__): a kernel cache named as a file is a usage error naming it, and nothing lands in the source tree."""
    from tests.helpers import NPM_FILES, REPO

    def in_tree():
        return sorted(p for p in (REPO / "tokbench").rglob("*") if p.suffix in (".nbi", ".nbc"))

    before = in_tree()
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "numba").write_text("a file where the kernel cache folder goes")
    r = tb("tokenize", "-t", NPM_FILES["gpt2"], corpus, env={"TOKBENCH_CACHE": str(tmp_path / "cache"),
                                                            "NUMBA_CACHE_DIR": ""})
    assert r.code == 2 and r.out == ""
    r.one_line(tmp_path / "cache" / "numba", "TOKBENCH_CACHE")
    assert in_tree() == before
