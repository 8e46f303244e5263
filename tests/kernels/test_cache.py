"""Compiled kernels are cached in the user cache folder, never in the source tree (issue 13: no compile on a user's
first command once `tokbench warmup` ran)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = ("import numpy as np; from tokbench.kernels import kernel_cache_dir, wordcount as w; "
         "w.line_bounds(np.zeros(3, np.int32)); print(kernel_cache_dir()); print(w.line_bounds._cache._cache_path)")


def _probe(env: dict) -> list[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "TOKBENCH_CACHE", "XDG_CACHE_HOME")}
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env={**base, "PYTHONPATH": str(ROOT), **env},
                         capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_kernel_cache_lives_in_the_user_cache(tmp_path):
    folder, cache_path = _probe({"TOKBENCH_CACHE": str(tmp_path / "tb")})
    assert Path(folder) == tmp_path / "tb" / "numba"
    assert Path(cache_path).is_relative_to(folder) and list(Path(cache_path).glob("wordcount.line_bounds-*.nbi"))
    folder, _ = _probe({"XDG_CACHE_HOME": str(tmp_path / "xdg")})
    assert Path(folder) == tmp_path / "xdg" / "tokbench" / "numba"
    folder, _ = _probe({"NUMBA_CACHE_DIR": str(tmp_path / "numba"), "TOKBENCH_CACHE": str(tmp_path / "tb")})
    assert Path(folder) == tmp_path / "numba"  # numba's own variable wins
    assert not Path(cache_path).is_relative_to(ROOT)  # not next to the source


LOAD = ("import sys, numpy as np; from tokbench.kernels import bpe_encode as k; "
        "text = 'Türkçe 中文 😀 plain'; buf, pos = k.utf8_encode(np.frombuffer(text.encode('utf-32-le'), np.int32)); "
        "assert buf[:pos[-1]].tobytes() == text.encode(); print(k.utf8_encode.stats.cache_hits, "
        "'numba.np.linalg' in sys.modules)")


def test_a_cached_kernel_loads_without_compiling_numbas_registries(tmp_path):
    """A cached kernel runs (right bytes) without numba's registry refresh (kernels/jit._load_cached: ~75 modules
    numba only needs to compile); the run that compiles it still loads them, through numba's compiler."""
    base = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "TOKBENCH_CACHE", "XDG_CACHE_HOME")}
    env = {**base, "PYTHONPATH": str(ROOT), "TOKBENCH_CACHE": str(tmp_path / "tb")}
    runs = [subprocess.run([sys.executable, "-c", LOAD], cwd=ROOT, env=env, capture_output=True, text=True,
                           check=True).stdout.split() for _ in range(2)]
    assert runs[0] == ["Counter()", "True"]  # compiled: the compiler refreshed the registries
    assert runs[1][-1] == "False" and runs[1][0] != "Counter()"  # loaded from the cache, registries untouched
