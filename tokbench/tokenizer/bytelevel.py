"""GPT-2's ByteLevel byte <-> character map, used by byte-level BPE vocabularies (tokenizer.json keys are these chars)."""

from functools import lru_cache


@lru_cache(maxsize=1)
def byte_to_char() -> tuple[str, ...]:
    """Char standing for each byte 0..255: printable Latin-1 maps to itself, the rest to U+0100 upwards in order."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars = {}
    extra = 0
    for b in range(256):
        if b in keep:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + extra)
            extra += 1
    return tuple(chars[b] for b in range(256))


@lru_cache(maxsize=1)
def char_to_byte() -> dict[str, int]:
    return {c: b for b, c in enumerate(byte_to_char())}


def to_bytes(token: str) -> bytes | None:
    """The bytes a ByteLevel token string stands for, or None when a char is outside the 256-char alphabet."""
    table = char_to_byte()
    try:
        return bytes(table[c] for c in token)
    except KeyError:
        return None


def to_chars(data: bytes) -> str:
    table = byte_to_char()
    return "".join(table[b] for b in data)
