"""The committed corpora sample: manifest agrees with the files, text is clean UTF-8 in the right script, parallel sets
are aligned. The rebuild test checks the recipe is deterministic where the pinned .debs are cached."""

from __future__ import annotations

import ast
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import unicodedata
from collections import Counter
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ROOT = REPO / "corpora"
MANIFEST = json.loads((ROOT / "MANIFEST.json").read_text("utf-8"))["corpora"]
LANGS = ["en", "tr", "de", "fr", "ru", "ja", "ar", "zh"]
REQUIRED = (
    ["en-dict", "en-tech", "code-py", "legal"]
    + [f"multi/{lg}" for lg in LANGS]
    + [f"parallel/{lg}" for lg in LANGS]
    + [f"pairs/en-{lg}/{side}" for lg in LANGS[1:] for side in ("en", lg)]
)


def txt_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix == ".txt")


def test_required_corpora_exist_and_are_listed():
    for name in REQUIRED:
        assert name in MANIFEST, name
        assert txt_files(ROOT / name), f"{name}: no documents"


def test_manifest_matches_files():
    for name, meta in MANIFEST.items():
        files = txt_files(ROOT / meta["path"])
        h = hashlib.sha256()
        total = 0
        for f in files:
            data = f.read_bytes()
            h.update(data)
            total += len(data)
        assert meta["documents"] == len(files), name
        assert meta["bytes"] == total, name
        assert meta["sha256"] == h.hexdigest(), name
        assert meta["sources"] and all(s["package"] and s["version"] for s in meta["sources"]), name
        assert meta["licence"], name


def test_no_unlisted_text_folders():
    """Every folder holding documents (outside corpora/full) is a manifest corpus."""
    listed = {ROOT / m["path"] for m in MANIFEST.values()}
    folders = {p.parent for p in ROOT.rglob("*.txt") if "full" not in p.relative_to(ROOT).parts[:1]}
    assert folders == listed


def test_files_are_clean_utf8_and_small():
    total = 0
    for meta in MANIFEST.values():
        for f in txt_files(ROOT / meta["path"]):
            data = f.read_bytes()
            text = data.decode("utf-8")  # raises on invalid UTF-8
            assert text.strip(), f"{f}: empty"
            assert len(data) <= 1_000_000, f
            assert text.endswith("\n") and "\r" not in text, f
            assert unicodedata.is_normalized("NFC", text), f
            total += len(data)
    assert total <= 2_000_000, f"sample is {total} bytes"


def _script_share(text: str, scripts: tuple[str, ...]) -> float:
    """Share of letters whose Unicode name starts with one of `scripts` (e.g. CYRILLIC, CJK, HIRAGANA)."""
    letters = [c for c in text if c.isalpha()]
    hits = sum(1 for c in letters if unicodedata.name(c, "").startswith(scripts))
    return hits / max(1, len(letters))


def _read(name: str) -> str:
    return "".join(f.read_text("utf-8") for f in txt_files(ROOT / name))


@pytest.mark.parametrize("folder", ["multi", "parallel"])
def test_languages_are_in_their_script(folder):
    """Translated text really is in the language: scripts for ru/ja/ar/zh, language-specific letters for tr/de/fr."""
    assert _script_share(_read(f"{folder}/ru"), ("CYRILLIC",)) > 0.6
    assert _script_share(_read(f"{folder}/ar"), ("ARABIC",)) > 0.6
    assert _script_share(_read(f"{folder}/ja"), ("HIRAGANA", "KATAKANA", "CJK")) > 0.5
    assert _script_share(_read(f"{folder}/zh"), ("CJK",)) > 0.5
    assert _script_share(_read(f"{folder}/en"), ("LATIN",)) > 0.99
    letters = {lg: Counter(c for c in _read(f"{folder}/{lg}").lower() if c.isalpha()) for lg in ("en", "tr", "de", "fr")}
    share = {lg: {ch: n / sum(c.values()) for ch, n in c.items()} for lg, c in letters.items()}
    assert share["tr"].get("ı", 0) > 0.01 and share["tr"].get("ş", 0) > 0.003  # dotless i, s-cedilla
    assert share["de"].get("ü", 0) + share["de"].get("ä", 0) + share["de"].get("ö", 0) > 0.005
    assert share["fr"].get("é", 0) > 0.005
    assert share["en"].get("ı", 0) == 0 and share["en"].get("é", 0) < 0.001


def _parallel_groups() -> dict[str, Path]:
    groups = {"parallel": ROOT / "parallel"}
    groups.update({d.name: d for d in sorted((ROOT / "pairs").iterdir()) if d.is_dir()})
    return groups


@pytest.mark.parametrize("group", sorted(_parallel_groups()))
def test_parallel_sets_are_aligned(group):
    """Same file names in every language, same number of paragraphs, and no paragraph left in English."""
    d = _parallel_groups()[group]
    langs = sorted(p.name for p in d.iterdir() if p.is_dir())
    assert "en" in langs and len(langs) == (len(LANGS) if group == "parallel" else 2)
    names = {lg: [f.name for f in txt_files(d / lg)] for lg in langs}
    assert all(n == names["en"] for n in names.values()), "file names differ between languages"
    assert names["en"]
    for n in names["en"]:
        en = (d / "en" / n).read_text("utf-8").split("\n\n")
        for lg in langs:
            if lg == "en":
                continue
            xx = (d / lg / n).read_text("utf-8").split("\n\n")
            assert len(xx) == len(en), f"{group}/{lg}/{n}: {len(xx)} paragraphs vs {len(en)} in English"
            assert all(a != b for a, b in zip(en, xx)), f"{group}/{lg}/{n}: an untranslated paragraph"


def test_dictionary_markup_is_stripped():
    text = _read("en-dict")
    assert "{" not in text and "}" not in text
    assert "[1913 Webster]" not in text and "[PJC]" not in text and "00-database" not in text
    assert "[=a]" not in text and "[e^]" not in text  # GCIDE accent codes became Unicode
    assert any(c in text for c in "āēīōū")


def test_code_sample_is_valid_python():
    for f in txt_files(ROOT / "code-py"):
        ast.parse(f.read_text("utf-8"), filename=str(f))


def test_legal_has_licences_and_copyright_files():
    names = [f.name for f in txt_files(ROOT / "legal")]
    assert any(n.startswith("common-licenses__GPL") for n in names)
    assert sum(n.startswith("copyright__") for n in names) >= 10


def _debs_cached() -> bool:
    cache = Path(os.environ.get("TOKBENCH_CACHE", REPO / ".cache")) / "debs"
    pkgs = {s["package"]: s["version"] for m in MANIFEST.values() for s in m["sources"]}
    pkgs.pop("python-stdlib", None)
    return all(list(cache.glob(f"{p}_{v.replace(':', '%3a')}_*.deb")) for p, v in pkgs.items())


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("dpkg-deb") is None or not _debs_cached(), reason="pinned .debs not cached")
@pytest.mark.skipif(platform.python_version() != MANIFEST["code-py"]["sources"][0]["version"],
                    reason="code-py depends on the Python version")
def test_rebuild_is_byte_identical(tmp_path):
    out = tmp_path / "corpora"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    r = subprocess.run([sys.executable, "tools/corpora_build.py", "--out", str(out)], cwd=REPO, env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert (out / "MANIFEST.json").read_bytes() == (ROOT / "MANIFEST.json").read_bytes()
    for meta in MANIFEST.values():
        for f in txt_files(ROOT / meta["path"]):
            assert (out / meta["path"] / f.name).read_bytes() == f.read_bytes(), f
