"""numba word counting: an open-addressing hash table of code-point sequences, persistent across batches.

The table lives in caller-owned arrays so memory grows with the distinct words only: `slots` (int32, power-of-two
size, -1 = empty) points at word ids; per word: hash, offset and length in `store` (its code points), count. Kernels
stop early and return where they stopped when an array is full; the caller grows that array and calls again.
Pure functions on arrays: no I/O, no tokbench imports. The counting kernels release the GIL (`nogil`), so counters
owned by different threads fill at the same time.
"""

from __future__ import annotations

import numpy as np

from tokbench.kernels.jit import njit

_FNV_OFFSET = -3750763034362895579  # 0xcbf29ce484222325 as int64
_FNV_PRIME = 1099511628211


@njit(cache=True)
def _hash(cps, a, b):
    h = _FNV_OFFSET
    for q in range(a, b):
        h = (h ^ cps[q]) * _FNV_PRIME
    return h ^ (h >> 29)


@njit(cache=True, nogil=True)
def line_bounds(cps):
    """int64 bounds of the lines of cps, each cut after its "\\n" (the last one may lack it): [0, ..., len(cps)]."""
    n = 1
    for i in range(cps.size):
        if cps[i] == 10:
            n += 1
    bounds = np.empty(n + 1, np.int64)
    bounds[0] = 0
    j = 1
    for i in range(cps.size):
        if cps[i] == 10:
            bounds[j] = i + 1
            j += 1
    bounds[j] = cps.size
    if j > 1 and bounds[j - 1] == cps.size:  # text ends with "\\n": no empty last line
        return bounds[:j]
    return bounds


@njit(cache=True, nogil=True)
def count_spans(cps, starts, ends, p0, slots, whash, woff, wlen, wcount, store, state):
    """Count the pieces cps[starts[p]:ends[p]] for p >= p0 into the table; `state` = [n_words, store_used].

    Returns len(starts) when done, or the first piece it could not insert because an array (or the load factor,
    kept <= 1/2) is full."""
    mask = slots.size - 1
    nw = state[0]
    su = state[1]
    for p in range(p0, starts.size):
        a = starts[p]
        ln = ends[p] - a
        h = _hash(cps, a, a + ln)
        pos = h & mask
        while True:
            w = slots[pos]
            if w < 0:
                break
            if whash[w] == h and wlen[w] == ln:
                o = woff[w]
                q = 0
                while q < ln and store[o + q] == cps[a + q]:
                    q += 1
                if q == ln:
                    wcount[w] += 1
                    break
            pos = (pos + 1) & mask
        if w >= 0:
            continue
        if nw >= whash.size or su + ln > store.size or 2 * (nw + 1) > slots.size:
            state[0] = nw
            state[1] = su
            return p
        for q in range(ln):
            store[su + q] = cps[a + q]
        whash[nw] = h
        woff[nw] = su
        wlen[nw] = ln
        wcount[nw] = 1
        slots[pos] = nw
        nw += 1
        su += ln
    state[0] = nw
    state[1] = su
    return starts.size


@njit(cache=True, nogil=True)
def rehash(slots, whash, n_words):
    """Fill a fresh (all -1) slot array with word ids 0..n_words-1."""
    mask = slots.size - 1
    for w in range(n_words):
        pos = whash[w] & mask
        while slots[pos] >= 0:
            pos = (pos + 1) & mask
        slots[pos] = w


@njit(cache=True)
def utf8_words(store, woff, wlen, n_words):
    """UTF-8 bytes of words 0..n_words-1 as (flat uint8 data, int64 offsets of length n_words+1)."""
    offsets = np.zeros(n_words + 1, np.int64)
    for w in range(n_words):
        nb = 0
        for q in range(woff[w], woff[w] + wlen[w]):
            c = store[q]
            nb += 1 if c < 0x80 else (2 if c < 0x800 else (3 if c < 0x10000 else 4))
        offsets[w + 1] = offsets[w] + nb
    data = np.empty(offsets[n_words], np.uint8)
    j = 0
    for w in range(n_words):
        for q in range(woff[w], woff[w] + wlen[w]):
            c = store[q]
            if c < 0x80:
                data[j] = c
                j += 1
            elif c < 0x800:
                data[j] = 0xC0 | (c >> 6)
                data[j + 1] = 0x80 | (c & 0x3F)
                j += 2
            elif c < 0x10000:
                data[j] = 0xE0 | (c >> 12)
                data[j + 1] = 0x80 | ((c >> 6) & 0x3F)
                data[j + 2] = 0x80 | (c & 0x3F)
                j += 3
            else:
                data[j] = 0xF0 | (c >> 18)
                data[j + 1] = 0x80 | ((c >> 12) & 0x3F)
                data[j + 2] = 0x80 | ((c >> 6) & 0x3F)
                data[j + 3] = 0x80 | (c & 0x3F)
                j += 4
    return data, offsets


@njit(cache=True)
def _compare_across(da, oa, a, db, ob, b):
    """Byte-wise comparison of word a of one table and word b of another (<0, 0, >0), the order of Python bytes and
    of memcmp."""
    i, ie = oa[a], oa[a + 1]
    j, je = ob[b], ob[b + 1]
    while i < ie and j < je:
        if da[i] != db[j]:
            return np.int64(da[i]) - np.int64(db[j])
        i += 1
        j += 1
    return (ie - i) - (je - j)


@njit(cache=True)
def _compare(data, offsets, a, b):
    """Byte-wise comparison of words a and b of one table (<0, 0, >0), the order of Python bytes and of memcmp."""
    return _compare_across(data, offsets, a, data, offsets, b)


@njit(cache=True, nogil=True)
def prefix_keys(data, offsets):
    """Each word's first 8 bytes as a big-endian uint64 (zero-padded): sorting by it sorts by bytes, except among
    words whose keys tie (a shared 8-byte prefix, or a short word and the same word with trailing zero bytes)."""
    n = offsets.size - 1
    keys = np.empty(n, np.uint64)
    for i in range(n):
        a, b = offsets[i], offsets[i + 1]
        k = np.uint64(0)
        for q in range(8):
            k = k << np.uint64(8)
            if a + q < b:
                k = k | np.uint64(data[a + q])
        keys[i] = k
    return keys


@njit(cache=True, nogil=True)
def _merge_sort_range(data, offsets, idx, tmp, lo, hi):
    """Sort idx[lo:hi] by the words' bytes (bottom-up merge sort; `tmp` is scratch of idx's size)."""
    src, dst = idx, tmp
    width = 1
    while width < hi - lo:
        for s in range(lo, hi, 2 * width):
            mid, end = min(s + width, hi), min(s + 2 * width, hi)
            i, j, k = s, mid, s
            while i < mid and j < end:
                if _compare(data, offsets, src[j], src[i]) < 0:
                    dst[k] = src[j]
                    j += 1
                else:
                    dst[k] = src[i]
                    i += 1
                k += 1
            while i < mid:
                dst[k] = src[i]
                i += 1
                k += 1
            while j < end:
                dst[k] = src[j]
                j += 1
                k += 1
        src, dst = dst, src
        width *= 2
    if src is not idx:
        idx[lo:hi] = src[lo:hi]


@njit(cache=True, nogil=True)
def sort_ties(data, offsets, keys, order):
    """Finish `order` (sorted by `prefix_keys`) into the bytes order: each run of tied keys is sorted by the whole
    words, in place. Returns order."""
    n = order.size
    tmp = np.empty(n, np.int64)
    i = 0
    while i < n:
        j = i + 1
        while j < n and keys[order[j]] == keys[order[i]]:
            j += 1
        if j - i > 1:
            _merge_sort_range(data, offsets, order, tmp, i, j)
        i = j
    return order


def sort_words(data, offsets):
    """The order of the words by their bytes (the order of Python bytes and of memcmp). Why not a comparison sort
    over all words: each comparison chases two offsets into the byte array (0.88 s for 671k words); sorting the 8-byte
    prefixes as integers (numpy's radix/timsort) and comparing whole words only where prefixes tie takes 0.15 s."""
    keys = prefix_keys(data, offsets)
    return sort_ties(data, offsets, keys, np.argsort(keys, kind="stable"))


@njit(cache=True, nogil=True)
def _gather_unique(data, offsets, counts, order):
    """The words in `order` (sorted by bytes) with duplicates summed: (data, int64 offsets, int64 counts)."""
    n = order.size
    new_off = np.zeros(n + 1, np.int64)
    new_cnt = np.zeros(n, np.int64)
    new_data = np.empty(data.size, np.uint8)
    m = 0
    for r in range(n):
        w = order[r]
        if m > 0 and _compare(data, offsets, w, order[r - 1]) == 0:
            new_cnt[m - 1] += counts[w]
            continue
        o = new_off[m]
        for q in range(offsets[w], offsets[w + 1]):
            new_data[o] = data[q]
            o += 1
        new_off[m + 1] = o
        new_cnt[m] = counts[w]
        m += 1
    return new_data[: new_off[m]].copy(), new_off[: m + 1].copy(), new_cnt[:m].copy()


def canonicalize(data, offsets, counts):
    """The same counts as one row per word, sorted by bytes: (data, int64 offsets, int64 counts)."""
    return _gather_unique(data, offsets, counts, sort_words(data, offsets))


@njit(cache=True, nogil=True)
def merge_sorted(da, oa, ca, db, ob, cb):
    """The sum of two canonical tables (one row per word, sorted by bytes) as a canonical table, in one linear pass:
    a word in both gets the sum of its counts. (data, int64 offsets, int64 counts), like `canonicalize`."""
    na, nb = oa.size - 1, ob.size - 1
    new_off = np.zeros(na + nb + 1, np.int64)
    new_cnt = np.zeros(na + nb, np.int64)
    new_data = np.empty(da.size + db.size, np.uint8)
    i = j = m = 0
    o = 0
    while i < na or j < nb:
        if i >= na:
            c = 1
        elif j >= nb:
            c = -1
        else:
            c = _compare_across(da, oa, i, db, ob, j)
        if c <= 0:
            for q in range(oa[i], oa[i + 1]):
                new_data[o] = da[q]
                o += 1
            new_cnt[m] = ca[i]
            i += 1
            if c == 0:
                new_cnt[m] += cb[j]
                j += 1
        else:
            for q in range(ob[j], ob[j + 1]):
                new_data[o] = db[q]
                o += 1
            new_cnt[m] = cb[j]
            j += 1
        new_off[m + 1] = o
        m += 1
    return new_data[:o].copy(), new_off[: m + 1].copy(), new_cnt[:m].copy()
