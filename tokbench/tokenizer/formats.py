"""Rank files and tiktoken descriptors: read and validated once, for the tiktoken backend and the zoo alike.

Descriptor format (the contract with the adapter). A JSON object:

    {"type": "tiktoken",               # always this string: the file is a descriptor, not a tokenizer.json
     "name": "cl100k_base",
     "ranks": "cl100k_base.tiktoken",  # ranks file, relative to the descriptor's folder; tiktoken format:
                                       #   one line per token `base64(token bytes) SPACE rank`, ranks 0..n-1
     "pattern": "...",                 # pre-tokenizer regex (tiktoken `pat_str`)
     "special_tokens": {"<|endoftext|>": 100257, ...},   # text -> id (final ids, id_offset already applied)
     "added_tokens": {"<|fim_prefix|>": 151659, ...},   # optional: text -> id of added tokens that are not special
                                       #   (`special: false` in a tokenizer.json): always matched as one token
     "normalizer": null | "NFC",       # unicodedata normal form applied to text before encoding
     "id_offset": 0,                   # id = rank + id_offset (Tekken reserves ids 0..999 for its specials)
     "roles": {"bos": null, "eos": "<|endoftext|>", "pad": null, "unk": null},  # special-token text or null (none)
     "vocab_size": 100277}             # number of ids: max(all ids) + 1

Loading it: `tiktoken.Encoding(name, pat_str=pattern, mergeable_ranks={bytes: rank + id_offset},
special_tokens=special_tokens | added_tokens)`, then `encode(normalize(text), allowed_special=set(added_tokens),
disallowed_special=())`. `encoding(desc, ranks)` builds that Encoding (`descriptor_encoding` uses it; the adapter encodes
with tokbench's own encoder, same ids). Special-token text inside the input is encoded as ordinary text unless allowed.

A bare `.tiktoken` ranks file has no descriptor; `ranks_descriptor` gives it one with cl100k's split pattern.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import unicodedata
from pathlib import Path

from tokbench.errors import InputError

NORMAL_FORMS = (None, "NFC", "NFKC", "NFD", "NFKD")


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
    """Parse a `.tiktoken` file (base64 token, space, rank per line) without tiktoken's download cache, and check it
    the way tiktoken's Rust core assumes (a malformed file panics there with a 243-line traceback): every token once,
    every rank once, ranks 0..N-1 with none missing."""
    ranks: dict[bytes, int] = {}
    line_of: dict[int, int] = {}
    try:
        with open(path, "rb") as handle:
            for lineno, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    token_text, rank_text = line.split()
                    token, rank = base64.b64decode(token_text, validate=True), int(rank_text)
                except ValueError:
                    raise InputError(f"{path}: line {lineno} is not `base64 rank`") from None
                if rank < 0:
                    raise InputError(f"{path}: line {lineno}: rank {rank} is negative")
                if token in ranks:
                    raise InputError(f"{path}: line {lineno}: token {token!r} appears twice (first with rank "
                                     f"{ranks[token]})")
                if rank in line_of:
                    raise InputError(f"{path}: line {lineno}: rank {rank} appears twice (first on line "
                                     f"{line_of[rank]})")
                ranks[token] = rank
                line_of[rank] = lineno
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    if ranks and max(line_of) != len(ranks) - 1:
        missing = next(r for r in range(len(ranks)) if r not in line_of)
        raise InputError(f"{path}: rank {missing} is missing (ranks must run 0..{len(ranks) - 1} without gaps)")
    return ranks


def write_descriptor(folder: Path, name: str, ranks: dict[bytes, int], pattern: str, special_tokens: dict[str, int],
                      roles: dict[str, str | None], normalizer: str | None = None, id_offset: int = 0,
                      added_tokens: dict[str, int] | None = None) -> str:
    """Write `<name>.tiktoken` and `<name>.json` into folder; return the ranks file's sha256."""
    payload = tiktoken_bytes(ranks)
    (folder / f"{name}.tiktoken").write_bytes(payload)
    added = dict(added_tokens or {})
    ids = [rank + id_offset for rank in ranks.values()] + list(special_tokens.values()) + list(added.values())
    descriptor = {
        "type": "tiktoken", "name": name, "ranks": f"{name}.tiktoken", "pattern": pattern,
        "special_tokens": special_tokens, **({"added_tokens": added} if added else {}), "normalizer": normalizer,
        "id_offset": id_offset,
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
    return check_descriptor(obj, path)


def check_descriptor(obj, path: Path) -> dict:
    """Validate a descriptor read from `path` (defaults filled in, `ranks` made absolute); InputError names the file."""
    if not isinstance(obj, dict) or obj.get("type") != "tiktoken":
        raise InputError(f"{path}: not a tiktoken descriptor (needs \"type\": \"tiktoken\")")
    for key, kind in (("name", str), ("ranks", str), ("pattern", str), ("special_tokens", dict)):
        if not isinstance(obj.get(key), kind):
            raise InputError(f"{path}: descriptor field {key!r} missing or not a {kind.__name__}")
    if obj.setdefault("normalizer", None) not in NORMAL_FORMS:
        raise InputError(f"{path}: descriptor normalizer {obj['normalizer']!r} is not null/NFC/NFKC/NFD/NFKD")
    added = obj.setdefault("added_tokens", {})
    if not isinstance(added, dict) or not all(isinstance(k, str) and isinstance(v, int) for k, v in added.items()):
        raise InputError(f"{path}: descriptor added_tokens must map token text to an integer id")
    if set(added) & set(obj["special_tokens"]):
        raise InputError(f"{path}: {sorted(set(added) & set(obj['special_tokens']))[0]!r} is both special and added")
    if not isinstance(obj.setdefault("id_offset", 0), int) or obj["id_offset"] < 0:
        raise InputError(f"{path}: descriptor id_offset must be a non-negative integer")
    roles = obj.setdefault("roles", {})
    if not isinstance(roles, dict) or any(v is not None and v not in obj["special_tokens"] for v in roles.values()):
        raise InputError(f"{path}: descriptor roles must map bos/eos/pad/unk to special-token text or null")
    import regex

    try:
        regex.compile(obj["pattern"])
    except regex.error as exc:
        raise InputError(f"{path}: descriptor pattern does not compile: {exc}") from None
    obj["ranks"] = (path.parent / obj["ranks"]).resolve()
    if not obj["ranks"].is_file():
        raise InputError(f"{path}: descriptor ranks file {obj['ranks']} does not exist")
    return obj


def ranks_descriptor(path: Path, pattern: str) -> dict:
    """The descriptor of a bare `.tiktoken` ranks file: its ranks, `pattern`, no special tokens."""
    return check_descriptor({"type": "tiktoken", "name": path.stem, "ranks": path.name, "pattern": pattern,
                             "special_tokens": {}}, path)


def encoding(desc: dict, ranks: dict[bytes, int], where: str | Path):
    """The tiktoken `Encoding` of a checked descriptor (read from `where`), with final ids (rank + id_offset)."""
    import tiktoken

    offset = desc["id_offset"]
    if offset:
        ranks = {token: rank + offset for token, rank in ranks.items()}
    specials = {**desc["special_tokens"], **desc["added_tokens"]}
    clash = set(ranks.values()) & set(specials.values())
    if clash:
        raise InputError(f"{where}: special token ids collide with ranks (e.g. {min(clash)})")
    try:
        return tiktoken.Encoding(desc["name"], pat_str=desc["pattern"], mergeable_ranks=ranks, special_tokens=specials)
    except Exception as exc:  # tiktoken raises ValueError/RuntimeError kinds for bad patterns
        raise InputError(f"{where}: tiktoken refused the descriptor: {exc}") from None


def normalize(text: str, form: str | None) -> str:
    """A descriptor's normalizer (a unicodedata normal form, or None) applied to text."""
    return unicodedata.normalize(form, text) if form else text


def descriptor_encoding(path: str | Path):
    """(tiktoken.Encoding with final ids, normalise function) for a descriptor."""
    desc = read_descriptor(path)
    form = desc["normalizer"]
    return encoding(desc, read_tiktoken_ranks(desc["ranks"]), path), lambda text: normalize(text, form)
