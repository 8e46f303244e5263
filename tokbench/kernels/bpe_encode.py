"""Byte-level BPE encoding of pre-tokens on arrays: lowest merge rank first, leftmost on ties (HF BPE, tiktoken).

A batch arrives as one UTF-8 buffer cut into pieces (pre-tokens, or added tokens whose id is already known). Each
distinct piece is encoded once: a cache keyed by the piece's bytes maps it to its ids, and the cache lives on between
calls (the caller keeps its arrays).
"""

import numpy as np
from numba import njit

from tokbench.kernels.tables import (
    EMPTY,
    bytes_find,
    grow,
    hash_bytes,
    int_find,
    rehash,
    table_capacity,
)

NO_RANK = np.int32(2**31 - 1)


@njit(cache=True)
def build_merge_table(left, right, new):
    """Merge table: pair (left << 32 | right) -> row; a pair listed twice keeps its last rank (as HF's map does).

    Returns (slots, keys, ranks, new_ids)."""
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
    return slots, keys[:m].copy(), ranks[:m].copy(), new_ids[:m].copy()


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


@njit(cache=True)
def _bpe_word(buf, start, end, byte_ids, m_slots, m_keys, m_ranks, m_new, sym, rank, out, n_out):
    """Encode buf[start:end] into out[n_out:]; returns the new n_out. sym/rank are scratch of length >= end-start."""
    n = end - start
    for i in range(n):
        sym[i] = byte_ids[buf[start + i]]
    for i in range(n - 1):
        k, slot = int_find(m_slots, m_keys, (np.int64(sym[i]) << 32) | np.int64(sym[i + 1]))
        rank[i] = m_ranks[k] if k != EMPTY else NO_RANK
    while n > 1:
        best = NO_RANK
        at = -1
        for i in range(n - 1):
            if rank[i] < best:
                best = rank[i]
                at = i
        if at < 0:
            break
        k, slot = int_find(m_slots, m_keys, (np.int64(sym[at]) << 32) | np.int64(sym[at + 1]))
        sym[at] = m_new[k]
        for i in range(at + 1, n - 1):
            sym[i] = sym[i + 1]
            rank[i] = rank[i + 1]
        n -= 1
        if at > 0:
            k, slot = int_find(m_slots, m_keys, (np.int64(sym[at - 1]) << 32) | np.int64(sym[at]))
            rank[at - 1] = m_ranks[k] if k != EMPTY else NO_RANK
        if at < n - 1:
            k, slot = int_find(m_slots, m_keys, (np.int64(sym[at]) << 32) | np.int64(sym[at + 1]))
            rank[at] = m_ranks[k] if k != EMPTY else NO_RANK
    for i in range(n):
        out[n_out + i] = sym[i]
    return n_out + n


@njit(cache=True)
def encode_pieces(
    buf,
    starts,
    ends,
    fixed,
    byte_ids,
    m_slots,
    m_keys,
    m_ranks,
    m_new,
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

    m_*: merge table (build_merge_table); ignore_merges: emit a piece that is a whole vocabulary entry directly
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
        buf, starts, ends, fixed, byte_ids, m_slots, m_keys, m_ranks, m_new, ignore_merges, v_pool, v_offs, v_slots,
        v_hashes, c_pool, c_offs, c_hashes, c_slots, c_ids, c_ids_offs, n_cached, ids, piece_offs, longest,
    )
    return ids[:n_out], piece_offs, c_pool, c_offs, c_hashes, c_slots, c_ids, c_ids_offs, n_cached


@njit(cache=True)
def _encode_loop(
    buf, starts, ends, fixed, byte_ids, m_slots, m_keys, m_ranks, m_new, ignore_merges, v_pool, v_offs, v_slots,
    v_hashes, c_pool, c_offs, c_hashes, c_slots, c_ids, c_ids_offs, n_cached, ids, piece_offs, longest,
):
    """encode_pieces' loop over pieces; every array has room already. Returns (ids written, n_cached)."""
    sym = np.empty(longest, np.int32)
    rank = np.empty(longest, np.int32)
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
            n_out = _bpe_word(buf, s, e, byte_ids, m_slots, m_keys, m_ranks, m_new, sym, rank, ids, n_out)
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


@njit(cache=True)
def utf8_positions(cps):
    """Byte offset in the UTF-8 encoding of each code point (length len(cps)+1), to turn code-point spans into bytes."""
    pos = np.empty(len(cps) + 1, np.int64)
    p = 0
    for i in range(len(cps)):
        pos[i] = p
        c = cps[i]
        p += 1 if c < 0x80 else (2 if c < 0x800 else (3 if c < 0x10000 else 4))
    pos[len(cps)] = p
    return pos
