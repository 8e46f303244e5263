"""Open-addressing hash tables on plain arrays, shared by the BPE kernels.

numba's typed Dict is several times slower than a flat table and cannot key on byte strings without copies, so the BPE
trainer and encoder keep their pair and byte-string lookups in these arrays. Keys are never deleted.
"""

import numpy as np

from tokbench.kernels.jit import njit

EMPTY = -1


@njit(cache=True)
def hash_bytes(buf, start, end):
    """FNV-1a over buf[start:end], as a non-negative int64."""
    h = np.uint64(14695981039346656037)
    prime = np.uint64(1099511628211)
    for i in range(start, end):
        h = (h ^ np.uint64(buf[i])) * prime
    return np.int64(h >> np.uint64(1))


@njit(cache=True)
def hash_int(key):
    """A 64-bit mix (splitmix64 finaliser) of an int64 key, as a non-negative int64."""
    x = np.uint64(key)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    x = x ^ (x >> np.uint64(31))
    return np.int64(x >> np.uint64(1))


@njit(cache=True)
def table_capacity(n):
    """A power of two holding n keys at load factor <= 1/2."""
    cap = 16
    while cap < 2 * n + 2:
        cap *= 2
    return cap


@njit(cache=True)
def bytes_equal(a, a0, a1, b, b0, b1):
    if a1 - a0 != b1 - b0:
        return False
    for i in range(a1 - a0):
        if a[a0 + i] != b[b0 + i]:
            return False
    return True


@njit(cache=True)
def bytes_find(slots, hashes, pool, offs, buf, start, end, h):
    """Slot of the key buf[start:end] with hash h: returns (key index or -1, slot where it is or would go).

    Key k's bytes are pool[offs[k]:offs[k+1]] and its hash hashes[k]."""
    mask = len(slots) - 1
    i = h & mask
    while True:
        k = slots[i]
        if k == EMPTY:
            return -1, i
        if hashes[k] == h and bytes_equal(pool, offs[k], offs[k + 1], buf, start, end):
            return k, i
        i = (i + 1) & mask


@njit(cache=True, inline="always")
def _free_slot(slots, h):
    """The first empty slot probing from hash h (linear probing; the table is never full)."""
    mask = len(slots) - 1
    i = h & mask
    while slots[i] != EMPTY:
        i = (i + 1) & mask
    return i


@njit(cache=True)
def rehash(hashes, n, cap):
    """A fresh slot array of capacity cap holding keys 0..n-1 (by their stored hashes)."""
    slots = np.full(cap, EMPTY, np.int64)
    for k in range(n):
        slots[_free_slot(slots, hashes[k])] = k
    return slots


@njit(cache=True)
def int_find(slots, keys, key):
    """(index of key or -1, slot where it is or would go) in an int64-keyed table; keys[k] is key k."""
    mask = len(slots) - 1
    i = hash_int(key) & mask
    while True:
        k = slots[i]
        if k == EMPTY:
            return -1, i
        if keys[k] == key:
            return k, i
        i = (i + 1) & mask


@njit(cache=True)
def int_rehash(keys, n, cap):
    """rehash for an int64-keyed table (hashes computed from the keys)."""
    slots = np.full(cap, EMPTY, np.int64)
    for k in range(n):
        slots[_free_slot(slots, hash_int(keys[k]))] = k
    return slots


@njit(cache=True)
def grow(arr, need):
    """arr, or a copy at least twice as long, so that index need-1 fits."""
    if need <= len(arr):
        return arr
    cap = max(need, 2 * len(arr), 16)
    out = np.empty(cap, arr.dtype)
    out[: len(arr)] = arr
    return out


@njit(cache=True)
def token_table(tok_pool, tok_offs, n_init, max_tokens):
    """Byte strings of the initial tokens, laid out to grow to `max_tokens`, with a hash index over them (so a merge
    whose bytes already exist can reuse that id). Returns (pool, offsets, hashes, slots)."""
    pool = grow(tok_pool.copy(), len(tok_pool) + 64)
    poffs = np.empty(max_tokens + 1, np.int64)
    poffs[: n_init + 1] = tok_offs
    thash = np.empty(max_tokens, np.int64)
    for k in range(n_init):
        thash[k] = hash_bytes(pool, poffs[k], poffs[k + 1])
    tslots = np.full(table_capacity(max_tokens), EMPTY, np.int64)
    for k in range(n_init):
        if poffs[k + 1] > poffs[k]:
            found, slot = bytes_find(tslots, thash, pool, poffs, pool, poffs[k], poffs[k + 1], thash[k])
            if found == EMPTY:
                tslots[slot] = k
    return pool, poffs, thash, tslots


@njit(cache=True)
def intern_token(pool, poffs, thash, tslots, n_tokens, end):
    """Register the bytes pool[poffs[n_tokens]:end] as a token: (id, new n_tokens); an existing id when the same bytes
    are already a token."""
    p0 = poffs[n_tokens]
    poffs[n_tokens + 1] = end
    h = hash_bytes(pool, p0, end)
    thash[n_tokens] = h
    found, tslot = bytes_find(tslots, thash, pool, poffs, pool, p0, end, h)
    if found != EMPTY:
        return np.int32(found), n_tokens
    tslots[tslot] = n_tokens
    return np.int32(n_tokens), n_tokens + 1
