"""Start-up stays light (issue 13): commands import only what they run; numba, torch and transformers load inside the
commands that need them."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("numba", "llvmlite", "torch", "transformers")
PROBE = """
import contextlib, io, json, sys
from tokbench import cli
with contextlib.redirect_stdout(io.StringIO()):
    try:
        cli.main(sys.argv[1:])
    except SystemExit:
        pass
print(json.dumps(sorted(m for m in %r if m in sys.modules)))
""" % (HEAVY,)


@pytest.mark.parametrize("argv", [["--help"], ["zoo", "--format", "json"], ["train", "--help"], ["eval", "--help"],
                                  ["bytes", "--help"], ["transplant", "--help"]])
def test_light_commands_do_not_import_heavy_modules(argv):
    out = subprocess.run([sys.executable, "-c", PROBE, *argv], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []

TOKENIZE = """
import contextlib, io, json, sys
from tokbench import cli
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        cli.main(sys.argv[1:])
    except SystemExit as exc:
        assert not exc.code, exc.code
print(json.dumps({"heavy": sorted(m for m in %r if m in sys.modules), "out": out.getvalue()}))
""" % (HEAVY,)


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
def test_tokenize_of_a_small_file_imports_no_numba(name, tmp_path):
    """Once a tokenizer's tables are cached (the first run builds them), `tokenize` of 1 KB runs without numba and
    prints tiktoken's ids."""
    import os

    from tokbench.tokenizer import formats, zoo

    try:
        descriptor = zoo.resolve(name)
    except Exception as exc:  # the zoo needs its registry packages
        pytest.skip(f"{name} not available: {exc}")
    text = sorted((ROOT / "corpora/multi/tr").glob("*.txt"))[0].read_text(encoding="utf-8")[:1000] + " <|endoftext|>"
    (tmp_path / "in.txt").write_text(text, encoding="utf-8")
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin",
           **{k: os.environ[k] for k in ("TOKBENCH_CACHE", "NUMBA_CACHE_DIR") if k in os.environ}}
    runs = [subprocess.run([sys.executable, "-c", TOKENIZE, "tokenize", "-t", name, str(tmp_path / "in.txt")],
                           cwd=ROOT, capture_output=True, text=True, check=True, env=env) for _ in range(2)]
    second = json.loads(runs[1].stdout.strip().splitlines()[-1])
    assert second["heavy"] == []
    encoding, normalize = formats.descriptor_encoding(descriptor)
    assert second["out"] == " ".join(map(str, encoding.encode_ordinary(normalize(text)))) + "\n"
