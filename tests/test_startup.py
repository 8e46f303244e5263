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
