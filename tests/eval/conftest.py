"""Fixtures for the eval tests: real tokenizers from the registry packages, small real texts."""
from __future__ import annotations

import base64
import importlib.util
from pathlib import Path

import pytest

_REPO = Path(__file__).resolve().parents[2]
FLORES = next((p / "shared" / "corpora" / "flores200" for p in (_REPO.parent, _REPO.parent.parent)
               if (p / "shared" / "corpora" / "flores200").is_dir()), _REPO / "missing-flores")


def _pkg_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    return Path(spec.submodule_search_locations[0])


@pytest.fixture(scope="session")
def cl100k_ranks() -> dict[bytes, int]:
    """cl100k_base ranks from quicktok-v1 (u32 n; n x {u16 len, bytes, u32 rank})."""
    from tokbench.tokenizer.formats import read_quicktok_ranks

    return read_quicktok_ranks(_pkg_dir("quicktok") / "data" / "cl100k.vocab")


@pytest.fixture(scope="session")
def cl100k_file(cl100k_ranks, tmp_path_factory) -> Path:
    """The same ranks as a .tiktoken file (base64 token, rank per line) for the project's adapter."""
    path = tmp_path_factory.mktemp("tik") / "cl100k_base.tiktoken"
    path.write_text("".join(f"{base64.b64encode(t).decode()} {r}\n" for t, r in
                            sorted(cl100k_ranks.items(), key=lambda kv: kv[1])))
    return path


@pytest.fixture(scope="session")
def gpt2_json() -> Path:
    from tokbench.tokenizer import zoo

    path = Path(zoo.resolve("gpt2"))
    if not path.exists():
        pytest.skip("gpt2 tokenizer.json not built (run make setup)")
    return path


@pytest.fixture(scope="session")
def sp_model() -> Path:
    return _pkg_dir("mistral_common") / "data" / "tokenizer.model.v1"


@pytest.fixture(scope="session")
def gpt2(gpt2_json):
    from tokbench.tokenizer import load_tokenizer

    return load_tokenizer(gpt2_json)


@pytest.fixture()
def texts(tmp_path) -> Path:
    """A small folder of real text: FLORES lines when present, else the project's README."""
    d = tmp_path / "texts"
    d.mkdir()
    src = FLORES / "eng_Latn.dev"
    lines = src.read_text(encoding="utf-8").splitlines()[:60] if src.exists() else \
        (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8").splitlines()
    for i in range(3):
        (d / f"doc{i}.txt").write_text("\n".join(lines[i * 20:(i + 1) * 20]) + "\n", encoding="utf-8")
    return d
