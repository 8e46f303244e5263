"""Array views of a tokenizer's vocabulary that the byte-level kernels work on."""

from __future__ import annotations

import numpy as np


def _lead_need(b: int) -> int:
    """Continuation bytes a UTF-8 lead byte announces (-1: not a lead byte, i.e. a continuation or invalid)."""
    if b < 0x80:
        return 0
    if 0xC2 <= b <= 0xDF:
        return 1
    if 0xE0 <= b <= 0xEF:
        return 2
    if 0xF0 <= b <= 0xF4:
        return 3
    return -1


def utf8_shape(data: bytes) -> tuple[int, bool, int]:
    """(leading continuation bytes, rest is a well-formed UTF-8 fragment, continuation bytes still owed at the end)."""
    i = 0
    n = len(data)
    while i < n and 0x80 <= data[i] <= 0xBF:
        i += 1
    lead = i
    owed = 0
    while i < n:
        need = _lead_need(data[i])
        if need < 0:
            return lead, False, 0
        j = i + 1
        while j < n and j <= i + need:
            if not 0x80 <= data[j] <= 0xBF:
                return lead, False, 0
            j += 1
        owed = need - (j - i - 1)
        i = j
    return lead, True, owed


def pending_continuations(data: bytes) -> int:
    """How many continuation bytes the end of ``data`` still needs to complete its last character."""
    return utf8_shape(data[-4:] if len(data) > 4 else data)[2] if data else 0


class VocabTables:
    """Flat token bytes, the sorted-prefix order and per-token UTF-8 shape, built once per tokenizer."""

    def __init__(self, token_bytes: list[bytes], excluded: set[int]):
        self.token_bytes = token_bytes
        V = self.V = len(token_bytes)
        lens = np.array([len(b) for b in token_bytes], np.int64)
        self.tb_len = lens
        self.tb_start = np.zeros(V, np.int64)
        if V > 1:
            self.tb_start[1:] = np.cumsum(lens)[:-1]
        self.tb_flat = np.frombuffer(b"".join(token_bytes), np.uint8).astype(np.int64)
        usable = lens > 0
        for t in excluded:
            if 0 <= t < V:
                usable[t] = False
        self.usable = usable
        ids = [t for t in range(V) if usable[t]]
        ids.sort(key=lambda t: token_bytes[t])
        self.order = np.array(ids, np.int64)
        firsts = np.array([token_bytes[t][0] for t in ids], np.int64)
        self.fb_start = np.searchsorted(firsts, np.arange(257)).astype(np.int64)
        self.sorted_bytes = [token_bytes[t] for t in ids]
        self.max_len = max((len(b) for b in self.sorted_bytes), default=1)
        self.first_byte = np.full(V, -1, np.int64)
        self.first_byte[self.order] = firsts
        # UTF-8 consistency: a token may follow a text that owes p continuation bytes iff it starts with exactly p
        # of them (or is shorter and made only of them) and the rest is a well-formed fragment.
        lead = np.zeros(V, np.int64)
        frag = np.zeros(V, bool)
        owed = np.zeros(V, np.int64)
        for t in range(V):
            if usable[t]:
                lead[t], frag[t], owed[t] = utf8_shape(token_bytes[t])
        self.owed = owed
        allc = lead == lens
        self.utf8_ok = [usable & frag & ((lead == p) | (allc & (lens < p))) for p in range(4)]
        self.by_bytes = {b: t for t, b in enumerate(token_bytes) if usable[t]}

    def with_prefix(self, prefix: bytes) -> np.ndarray:
        """Token ids whose bytes start with ``prefix`` (a contiguous range of the sorted order)."""
        import bisect

        lo = bisect.bisect_left(self.sorted_bytes, prefix)
        hi = bisect.bisect_left(self.sorted_bytes, prefix + b"\xff" * 64)
        return self.order[lo:hi]
