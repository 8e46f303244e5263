"""Fixtures for transplant tests: tiny real tokenizers (BPE trained on standard-library source), tiny random Llamas."""

from __future__ import annotations

import json
import textwrap
import typing
from pathlib import Path

import pytest

from tests.helpers import make_model, stdlib_text, train_bpe

@pytest.fixture(scope="session")
def toks(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("toks")
    return {
        "old": train_bpe(stdlib_text(json.decoder, json.encoder, textwrap), 700, root / "old.json"),
        "new": train_bpe(stdlib_text(typing), 900, root / "new.json"),
    }


@pytest.fixture(scope="session")
def models(tmp_path_factory, toks) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    return {"tied": make_model(root / "tied", toks["old"], tied=True),
            "untied": make_model(root / "untied", toks["old"], tied=False)}


@pytest.fixture(scope="session")
def sample_text() -> str:
    return stdlib_text(textwrap)[:6000]
