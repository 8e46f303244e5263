"""Class 9: outputs follow the umask (not mkstemp's private 0600/0700), so a shared model or report folder is
readable by the others it is shared with."""

from __future__ import annotations

import stat

import pytest


def _modes(path):
    """{relative path: permission bits} of `path` and everything under it."""
    paths = [path, *sorted(path.rglob("*"))] if path.is_dir() else [path]
    return {str(p.relative_to(path.parent)): stat.S_IMODE(p.stat().st_mode) for p in paths}


CASES = {
    "train-json": (["train", "{c}", "--vocab-size", "300", "-o", "{o}"], "tok.json"),
    "train-folder": (["train", "{c}", "--vocab-size", "300", "-o", "{o}"], "tokdir"),
    "count": (["count", "{c}", "-o", "{o}"], "counts.parquet"),
    "eval-report": (["eval", "-t", "gpt2", "-c", "{c}", "-o", "{o}"], "report"),
}


@pytest.mark.parametrize("umask", [0o002, 0o077])
@pytest.mark.parametrize("name", sorted(CASES))
def test_outputs_follow_the_umask(tb, tmp_path, corpus, name, umask):
    args, out = CASES[name]
    target = tmp_path / "new" / out  # a missing parent folder is created with the umask too
    r = tb(*[a.replace("{c}", str(corpus)).replace("{o}", str(target)) for a in args], umask=umask)
    assert r.code == 0, r.err
    modes = _modes(tmp_path / "new")
    for rel, mode in modes.items():
        is_dir = (tmp_path / rel).is_dir()
        assert mode == (0o777 if is_dir else 0o666) & ~umask, (rel, oct(mode))
