"""Byte-level BPE encoding of pre-tokens on arrays: lowest merge rank first, leftmost on ties (HF BPE, tiktoken).

A batch arrives as one UTF-8 buffer cut into pieces (pre-tokens, or added tokens whose id is already known). Each
distinct piece is encoded once: a cache keyed by the piece's bytes maps it to its ids, and the cache lives on between
calls (the caller keeps its arrays). The encoding kernels release the GIL: threads with a cache each run side by side.
"""

import numpy as np

from tokbench.kernels.jit import njit
from tokbench.kernels.tables import (
    EMPTY,
    bytes_find,
    grow,
    hash_bytes,
    hash_int,
    int_find,
    rehash,
    table_capacity,
)

NO_RANK = np.int32(2**31 - 1)
NO_PAIR = np.int64(2**63 - 1)  # _pair's "no such merge": above every rank << 32 | new id


@njit(cache=True)
def build_merge_table(left, right, new):
    """Merge table: pair (left << 32 | right) -> its rank and new id; a pair listed twice keeps its last rank (as HF's
    map does).

    Returns (table, keys, ranks, new_ids): table is the open-addressing index the encoder probes, int64[cap, 2] with
    row [key, rank << 32 | new_id] (key EMPTY: a free row; linear probing from hash_int(key)), so one probe reads one
    cache line; keys/ranks/new_ids list the distinct pairs in first-seen order."""
    n = len(left)
    keys = np.empty(n, np.int64)
    ranks = np.empty(n, np.int32)
    new_ids = np.empty(n, np.int32)
    slots = np.full(table_capacity(n), EMPTY, np.int64)
    m = 0
    for i in range(n):
        key = (np.int64(left[i]) << 32) | np.int64(right[i])
        k, slot = int_find(slots, keys, key)
        if k == EMPTY:
            k = m
            m += 1
            keys[k] = key
            slots[slot] = k
        ranks[k] = i
        new_ids[k] = new[i]
    table = np.full((len(slots), 2), EMPTY, np.int64)
    for slot in range(len(slots)):
        k = slots[slot]
        if k != EMPTY:
            table[slot, 0] = keys[k]
            table[slot, 1] = (np.int64(ranks[k]) << 32) | np.int64(new_ids[k])
    return table, keys[:m].copy(), ranks[:m].copy(), new_ids[:m].copy()


@njit(cache=True, nogil=True, inline="always")
def _pair(m_table, a, b):
    """rank << 32 | new id of the merge (a, b), or NO_PAIR."""
    key = (np.int64(a) << 32) | np.int64(b)
    mask = m_table.shape[0] - 1
    i = hash_int(key) & mask
    while True:
        k = m_table[i, 0]
        if k == key:
            return m_table[i, 1]
        if k == EMPTY:
            return NO_PAIR
        i = (i + 1) & mask


@njit(cache=True)
def build_bytes_table(pool, offs):
    """Table over byte strings pool[offs[k]:offs[k+1]] (empty ones left out). Returns (slots, hashes)."""
    n = len(offs) - 1
    hashes = np.empty(n, np.int64)
    slots = np.full(table_capacity(n), EMPTY, np.int64)
    for k in range(n):
        hashes[k] = hash_bytes(pool, offs[k], offs[k + 1])
        if offs[k + 1] > offs[k]:
            found, slot = bytes_find(slots, hashes, pool, offs, pool, offs[k], offs[k + 1], hashes[k])
            if found == EMPTY:
                slots[slot] = k
    return slots, hashes


@njit(cache=True, nogil=True)
def _bpe_word(buf, start, end, byte_ids, m_table, sym, rank, out, n_out):
    """Encode buf[start:end] into out[n_out:]; returns the new n_out. sym (int32) / rank (int64: the pair's
    rank << 32 | new id, so the lowest is the lowest rank) are scratch of length >= end-start."""
    n = end - start
    for i in range(n):
        sym[i] = byte_ids[buf[start + i]]
    for i in range(n - 1):
        rank[i] = _pair(m_table, sym[i], sym[i + 1])
    while n > 1:
        best = NO_PAIR
        at = -1
        for i in range(n - 1):
            if rank[i] < best:
                best = rank[i]
                at = i
        if at < 0:
            break
        sym[at] = np.int32(best & 0xFFFFFFFF)
        for i in range(at + 1, n - 1):
            sym[i] = sym[i + 1]
            rank[i] = rank[i + 1]
        n -= 1
        if at > 0:
            rank[at - 1] = _pair(m_table, sym[at - 1], sym[at])
        if at < n - 1:
            rank[at] = _pair(m_table, sym[at], sym[at + 1])
    for i in range(n):
        out[n_out + i] = sym[i]
    return n_out + n


@njit(cache=True, nogil=True)
def encode_pieces(
    buf,
    starts,
    ends,
    fixed,
    byte_ids,
    m_table,
    ignore_merges,
    v_pool,
    v_offs,
    v_slots,
    v_hashes,
    c_pool,
    c_offs,
    c_hashes,
    c_slots,
    c_ids,
    c_ids_offs,
    n_cached,
):
    """Encode each piece buf[starts[i]:ends[i]] (or emit fixed[i] when >= 0).

    m_table: merge table (build_merge_table); ignore_merges: emit a piece that is a whole vocabulary entry directly
    (v_*: the vocabulary's byte strings, build_bytes_table). c_*: the word cache (n_cached words), grown as needed.
    Returns (ids int32, piece_offs int64 (n_pieces+1), c_pool, c_offs, c_hashes, c_slots, c_ids, c_ids_offs, n_cached).
    """
    n_pieces = len(starts)
    total = 0
    longest = 1
    for i in range(n_pieces):
        ln = ends[i] - starts[i]
        total += max(ln, 1)
        longest = max(longest, ln)
    # room for every piece being a new word, so the loop below never regrows an array
    words = n_cached + n_pieces
    c_hashes = grow(c_hashes, words)
    c_offs = grow(c_offs, words + 1)
    c_ids_offs = grow(c_ids_offs, words + 1)
    c_pool = grow(c_pool, c_offs[n_cached] + total)
    c_ids = grow(c_ids, c_ids_offs[n_cached] + total)
    if 2 * words + 2 > len(c_slots):
        c_slots = rehash(c_hashes, n_cached, table_capacity(2 * words))
    ids = np.empty(total, np.int32)
    piece_offs = np.empty(n_pieces + 1, np.int64)
    n_out, n_cached = _encode_loop(
        buf, starts, ends, fixed, byte_ids, m_table, ignore_merges, v_pool, v_offs, v_slots,
        v_hashes, c_pool, c_offs, c_hashes, c_slots, c_ids, c_ids_offs, n_cached, ids, piece_offs, longest,
    )
    return ids[:n_out], piece_offs, c_pool, c_offs, c_hashes, c_slots, c_ids, c_ids_offs, n_cached


@njit(cache=True, nogil=True)
def _encode_loop(
    buf, starts, ends, fixed, byte_ids, m_table, ignore_merges, v_pool, v_offs, v_slots,
    v_hashes, c_pool, c_offs, c_hashes, c_slots, c_ids, c_ids_offs, n_cached, ids, piece_offs, longest,
):
    """encode_pieces' loop over pieces; every array has room already. Returns (ids written, n_cached)."""
    sym = np.empty(longest, np.int32)
    rank = np.empty(longest, np.int64)
    piece_offs[0] = 0
    n_out = 0
    for i in range(len(starts)):
        if fixed[i] >= 0:
            ids[n_out] = fixed[i]
            n_out += 1
            piece_offs[i + 1] = n_out
            continue
        s = starts[i]
        e = ends[i]
        h = hash_bytes(buf, s, e)
        k, slot = bytes_find(c_slots, c_hashes, c_pool, c_offs, buf, s, e, h)
        if k != EMPTY:
            for j in range(c_ids_offs[k], c_ids_offs[k + 1]):
                ids[n_out] = c_ids[j]
                n_out += 1
            piece_offs[i + 1] = n_out
            continue
        start_out = n_out
        v = EMPTY
        if ignore_merges:
            v, vslot = bytes_find(v_slots, v_hashes, v_pool, v_offs, buf, s, e, h)
        if v != EMPTY:
            ids[n_out] = v
            n_out += 1
        elif e - s == 1:
            ids[n_out] = byte_ids[buf[s]]
            n_out += 1
        else:
            n_out = _bpe_word(buf, s, e, byte_ids, m_table, sym, rank, ids, n_out)
        piece_offs[i + 1] = n_out
        # remember the word
        k = n_cached
        n_cached += 1
        p0 = c_offs[k]
        for t in range(e - s):
            c_pool[p0 + t] = buf[s + t]
        c_offs[k + 1] = p0 + (e - s)
        c_hashes[k] = h
        q0 = c_ids_offs[k]
        for t in range(n_out - start_out):
            c_ids[q0 + t] = ids[start_out + t]
        c_ids_offs[k + 1] = q0 + (n_out - start_out)
        c_slots[slot] = k
    return n_out, n_cached


@njit(cache=True, nogil=True)
def utf8_encode(cps):
    """The UTF-8 bytes of code points cps (Unicode scalar values) and the byte offset of each code point (length
    len(cps)+1), in one pass without the GIL: str.encode("utf-8") and the offsets' fancy indexing in Python would hold
    it, and that is what kept two encoding threads from running side by side. buf has at least one byte."""
    pos = np.empty(len(cps) + 1, np.int64)
    p = 0
    for i in range(len(cps)):
        pos[i] = p
        c = cps[i]
        p += 1 if c < 0x80 else (2 if c < 0x800 else (3 if c < 0x10000 else 4))
    pos[len(cps)] = p
    buf = np.empty(max(p, 1), np.uint8)
    if p == 0:
        buf[0] = 0
    for i in range(len(cps)):
        c = cps[i]
        q = pos[i]
        if c < 0x80:
            buf[q] = c
        elif c < 0x800:
            buf[q] = 0xC0 | (c >> 6)
            buf[q + 1] = 0x80 | (c & 0x3F)
        elif c < 0x10000:
            buf[q] = 0xE0 | (c >> 12)
            buf[q + 1] = 0x80 | ((c >> 6) & 0x3F)
            buf[q + 2] = 0x80 | (c & 0x3F)
        else:
            buf[q] = 0xF0 | (c >> 18)
            buf[q + 1] = 0x80 | ((c >> 12) & 0x3F)
            buf[q + 2] = 0x80 | ((c >> 6) & 0x3F)
            buf[q + 3] = 0x80 | (c & 0x3F)
    return buf, pos


@njit(cache=True, nogil=True)
def spans_at(pos, starts, ends):
    """pos[starts], pos[ends] (int64) without the GIL."""
    a = np.empty(len(starts), np.int64)
    b = np.empty(len(starts), np.int64)
    for i in range(len(starts)):
        a[i] = pos[starts[i]]
        b[i] = pos[ends[i]]
    return a, b


# --- building the tables from a vocabulary, in array code (a 200k vocabulary in tens of milliseconds) ----------------


@njit(cache=True)
def parse_tiktoken(data, b64):
    """Tokens of a `.tiktoken` file: per line a base64 token, one space, a decimal rank; blank lines are skipped.

    b64: int16[256], the value of each base64 letter (-1 for others). Returns (pool uint8, starts, ends, ranks int64,
    bad) where bad is the 1-based number of the first line that is not `base64 rank` (0 when all are)."""
    n = data.size
    pool = np.empty(n, np.uint8)
    n_lines = 1
    for i in range(n):
        if data[i] == 10:
            n_lines += 1
    starts = np.empty(n_lines, np.int64)
    ends = np.empty(n_lines, np.int64)
    ranks = np.empty(n_lines, np.int64)
    m = 0
    p = 0
    i = 0
    line = 0
    while i < n:
        line += 1
        j = i
        while j < n and data[j] != 10:
            j += 1
        e = j
        while e > i and (data[e - 1] == 13 or data[e - 1] == 32 or data[e - 1] == 9):
            e -= 1
        if e == i:
            i = j + 1
            continue
        sp = i
        while sp < e and data[sp] != 32:
            sp += 1
        # base64 part data[i:sp] (validated: letters, then at most two '=' to a multiple of 4); rank data[sp+1:e]
        ln = sp - i
        if ln == 0 or ln % 4 != 0 or sp + 1 >= e:
            return pool[:p], starts[:m], ends[:m], ranks[:m], line
        pad = 0
        while pad < 2 and data[sp - 1 - pad] == 61:
            pad += 1
        start = p
        acc = 0
        bits = 0
        for q in range(i, sp - pad):
            v = b64[data[q]]
            if v < 0:
                return pool[:p], starts[:m], ends[:m], ranks[:m], line
            acc = (acc << 6) | v
            bits += 6
            if bits >= 8:
                bits -= 8
                pool[p] = (acc >> bits) & 0xFF
                p += 1
        if (acc & ((1 << bits) - 1)) != 0:  # non-canonical padding bits: not what base64.b64encode writes
            return pool[:p], starts[:m], ends[:m], ranks[:m], line
        r = 0
        for q in range(sp + 1, e):
            d = data[q] - 48
            if d < 0 or d > 9:
                return pool[:p], starts[:m], ends[:m], ranks[:m], line
            r = r * 10 + d
        starts[m] = start
        ends[m] = p
        ranks[m] = r
        m += 1
        i = j + 1
    return pool[:p], starts[:m], ends[:m], ranks[:m], 0


@njit(cache=True)
def tokens_by_id(pool, starts, ends, ids, size):
    """Token bytes laid out by id: (pool, offs of length size+1); an id nobody has is empty; the last one given wins."""
    owner = np.full(size, -1, np.int64)
    for k in range(ids.size):
        owner[ids[k]] = k
    offs = np.zeros(size + 1, np.int64)
    for t in range(size):
        k = owner[t]
        offs[t + 1] = offs[t] + (ends[k] - starts[k] if k >= 0 else 0)
    out = np.empty(max(offs[size], 1), np.uint8)
    for t in range(size):
        k = owner[t]
        if k >= 0:
            out[offs[t] : offs[t + 1]] = pool[starts[k] : ends[k]]
    return out, offs


@njit(cache=True)
def byte_token_ids(pool, offs, slots, hashes):
    """Id of the one-byte token for each byte value (-1 where the vocabulary has none)."""
    one = np.empty(1, np.uint8)
    out = np.full(256, -1, np.int32)
    for b in range(256):
        one[0] = b
        k, slot = bytes_find(slots, hashes, pool, offs, one, 0, 1, hash_bytes(one, 0, 1))
        out[b] = k
    return out


@njit(cache=True)
def rank_merges(pool, offs, slots, hashes):
    """tiktoken's merges as rows (left, right, new) in id order: every split of token t into two tokens merges at t's
    rank (tiktoken joins any adjacent pair whose bytes are a token, not only the pair a trainer recorded)."""
    n = offs.size - 1
    room = 0
    for t in range(n):
        room += max(offs[t + 1] - offs[t] - 1, 0)
    out = np.empty((room, 3), np.int32)
    m = 0
    for t in range(n):
        a = offs[t]
        b = offs[t + 1]
        for k in range(a + 1, b):
            left, slot = bytes_find(slots, hashes, pool, offs, pool, a, k, hash_bytes(pool, a, k))
            if left == EMPTY:
                continue
            right, slot = bytes_find(slots, hashes, pool, offs, pool, k, b, hash_bytes(pool, k, b))
            if right != EMPTY:
                out[m, 0] = left
                out[m, 1] = right
                out[m, 2] = t
                m += 1
    return out[:m].copy()


@njit(cache=True)
def map_chars(cps, bounds, char_bytes):
    """Byte strings of char strings cps[bounds[j]:bounds[j+1]] through a char -> byte table (-1: no byte), e.g.
    ByteLevel's. Returns (pool, offs); a string with any unmapped char comes back empty."""
    n = bounds.size - 1
    pool = np.empty(max(cps.size, 1), np.uint8)
    offs = np.zeros(n + 1, np.int64)
    p = 0
    for j in range(n):
        start = p
        for q in range(bounds[j], bounds[j + 1]):
            c = cps[q]
            v = char_bytes[c] if c < char_bytes.size else -1
            if v < 0:
                p = start
                break
            pool[p] = v
            p += 1
        offs[j + 1] = p
    return pool, offs
