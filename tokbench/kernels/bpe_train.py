"""The BPE merge loop of Hugging Face tokenizers' BpeTrainer, on int32 arrays.

Reproduces trainer.rs step for step (see shared notes/bpe-training.md) so that merges are identical:
- a max-heap of entries (count, pair, word positions), ordered by count, then smallest (left, right);
- lazy updates: a popped entry whose count is stale goes back with the current count (and its positions);
- a merge is applied only to the words of the popped entry, left to right without overlaps; per merge with word
  frequency f: (prev,a) -f, (prev,new) +f, (b,next) -f, (new,next) +f; the merged pair itself is never decremented;
- every pair that got a +f change goes back on the heap (if its count is > 0) with the words where that happened;
- stop when the vocabulary reaches vocab_size, the heap is empty, or the best count is < 1 or < min_frequency;
- a merge whose byte concatenation is already a token reuses that id (and is still recorded).
Memory stays near HF's: heap entries whose merge was applied are reused, and the pool of word positions is compacted
to the entries still on the heap whenever it would otherwise grow while mostly dead.
"""

import numpy as np

from tokbench.kernels.jit import njit
from tokbench.kernels.tables import (
    EMPTY,
    grow,
    int_find,
    int_rehash,
    intern_token,
    table_capacity,
    token_table,
)


@njit(cache=True)
def _pair_key(left, right):
    return (np.int64(left) << 32) | np.int64(right)


@njit(cache=True)
def _above(cnt, left, right, a, b):
    """Heap order: entry a comes out before entry b."""
    if cnt[a] != cnt[b]:
        return cnt[a] > cnt[b]
    if left[a] != left[b]:
        return left[a] < left[b]
    return right[a] < right[b]


@njit(cache=True)
def _sift_down(heap, n, i, cnt, left, right):
    e = heap[i]
    while True:
        c = 2 * i + 1
        if c >= n:
            break
        if c + 1 < n and _above(cnt, left, right, heap[c + 1], heap[c]):
            c += 1
        if not _above(cnt, left, right, heap[c], e):
            break
        heap[i] = heap[c]
        i = c
    heap[i] = e


@njit(cache=True)
def _sift_up(heap, i, cnt, left, right):
    e = heap[i]
    while i > 0:
        p = (i - 1) // 2
        if not _above(cnt, left, right, e, heap[p]):
            break
        heap[i] = heap[p]
        i = p
    heap[i] = e


@njit(cache=True)
def push_entry(heap, heap_n, e, count, key, ecnt, eleft, eright):
    """Entry e := (count, pair key) pushed on the heap (its arrays have room for e). Returns (heap, heap_n)."""
    ecnt[e] = count
    eleft[e] = np.int32(key >> 32)
    eright[e] = np.int32(key & 0xFFFFFFFF)
    heap = grow(heap, heap_n + 1)
    heap[heap_n] = e
    _sift_up(heap, heap_n, ecnt, eleft, eright)
    return heap, heap_n + 1


@njit(cache=True)
def _count_pairs(w, syms, word_offs, wlen, word_counts, at, pslots, pkeys, pcnt, pocc, plast, n_pairs):
    """Count the pairs of words w.. (overlapping, times the word count) and how many words hold each, until the
    table could overflow. Returns (next word, n_pairs)."""
    n_words = len(word_counts)
    while w < n_words:
        n = wlen[w]
        if n_pairs + n > len(pkeys) or 2 * (n_pairs + n) + 2 > len(pslots):
            break
        base = word_offs[w]
        f = word_counts[w]
        for i in range(n - 1):
            before = n_pairs
            k, n_pairs = _insert_pair(pslots, pkeys, pcnt, n_pairs, _pair_key(syms[base + i], syms[base + i + 1]))
            if n_pairs != before:
                pocc[k] = 0
                plast[k] = -1
            at[base + i] = k
            pcnt[k] += f
            if plast[k] != w:
                plast[k] = w
                pocc[k] += 1
        w += 1
    return w, n_pairs


@njit(cache=True)
def _insert_pair(pslots, pkeys, pcnt, n_pairs, key):
    """Index of pair key, added with count 0 if new; the caller made room. Returns (index, n_pairs)."""
    k, slot = int_find(pslots, pkeys, key)
    if k == EMPTY:
        k = n_pairs
        pkeys[k] = key
        pcnt[k] = 0
        pslots[slot] = k
        n_pairs += 1
    return k, n_pairs


@njit(cache=True)
def _apply_merge(
    words, a, b, new, syms, at, wlen, word_offs, word_counts,
    pslots, pkeys, pcnt, n_pairs, nb_left, nb_right, nb_seen, bcnt, blast, touched, ch_pair, ch_word,
):
    """Merge (a, b) -> new in the given words, left to right; update pair counts; record the +f changes.

    Returns (changes recorded, pairs touched, n_pairs)."""
    n_ch = 0
    n_touched = 0
    n_seen = 0
    for w in words:
        f = word_counts[w]
        base = word_offs[w]
        n = wlen[w]
        i = 0
        j = 0
        while i < n:
            if i + 1 < n and syms[base + i] == a and syms[base + i + 1] == b:
                for side in range(2):
                    if side == 0:  # (prev, a) -> (prev, new)
                        if j == 0:
                            continue
                        t = base + j - 1
                        other = syms[t]
                        k = nb_left[other]
                    else:  # (b, next) -> (new, next)
                        if i + 2 >= n:
                            continue
                        t = base + i + 1
                        other = syms[base + i + 2]
                        k = nb_right[other]
                    pcnt[at[t]] -= f
                    if k == EMPTY:
                        key = _pair_key(other, new) if side == 0 else _pair_key(new, other)
                        k, n_pairs = _insert_pair(pslots, pkeys, pcnt, n_pairs, key)
                        if side == 0:
                            nb_left[other] = k
                        else:
                            nb_right[other] = k
                        nb_seen[n_seen] = other
                        n_seen += 1
                    pcnt[k] += f
                    if side == 0:
                        at[t] = k
                    else:
                        at[base + j] = k
                    if blast[k] != w:
                        blast[k] = w
                        if bcnt[k] == 0:
                            touched[n_touched] = k
                            n_touched += 1
                        bcnt[k] += 1
                        ch_pair[n_ch] = k
                        ch_word[n_ch] = w
                        n_ch += 1
                syms[base + j] = new
                i += 2
            else:
                syms[base + j] = syms[base + i]
                at[base + j] = at[base + i]
                i += 1
            j += 1
        wlen[w] = j
    for t in range(n_seen):
        nb_left[nb_seen[t]] = EMPTY
        nb_right[nb_seen[t]] = EMPTY
    return n_ch, n_touched, n_pairs


@njit(cache=True)
def _compact(pos, heap, heap_n, estart, elen, cap):
    """A fresh position pool of capacity cap holding only the positions of entries on the heap (order kept within
    each entry, so merges do not change). Returns (pool, used)."""
    out = np.empty(cap, np.int32)
    q = 0
    for h in range(heap_n):
        e = heap[h]
        s = estart[e]
        estart[e] = q
        for t in range(elen[e]):
            out[q + t] = pos[s + t]
        q += elen[e]
    return out, q


@njit(cache=True)
def train_merges(word_syms, word_offs, word_counts, tok_pool, tok_offs, vocab_size, min_frequency):
    """Run the merge loop.

    word_syms (int32) / word_offs (int64, n_words+1): each distinct word as initial token ids; word_counts (int64).
    tok_pool (uint8) / tok_offs (int64, n_init+1): the bytes of the initial tokens (ids 0..n_init-1); a token with no
    bytes (a special token that is not plain bytes) never matches a merge.
    Returns (left, right, new_id) int32 arrays, one row per merge in the order made (duplicates included).
    """
    n_words = len(word_counts)
    n_init = len(tok_offs) - 1
    syms = word_syms.copy()
    wlen = np.empty(n_words, np.int64)
    for w in range(n_words):
        wlen[w] = word_offs[w + 1] - word_offs[w]

    # --- token byte strings, to reuse the id of an existing concatenation
    max_tokens = max(vocab_size, n_init) + 1
    pool, poffs, thash, tslots = token_table(tok_pool, tok_offs, n_init, max_tokens)
    n_tokens = n_init

    # --- pair table: key -> index; count per index
    n_pairs = 0
    pkeys = np.empty(1024, np.int64)
    pcnt = np.zeros(1024, np.int64)
    pslots = np.full(table_capacity(1024), EMPTY, np.int64)
    # first pass: counts and, per pair, number of distinct words holding it
    pocc = np.zeros(1024, np.int64)
    plast = np.full(1024, -1, np.int64)
    # pair index of (syms[t], syms[t+1]) at every position t, kept in step with syms, so that a merge finds the pairs
    # it breaks without hashing
    at = np.empty(len(syms), np.int32)
    w = 0
    while w < n_words:
        w, n_pairs = _count_pairs(w, syms, word_offs, wlen, word_counts, at, pslots, pkeys, pcnt, pocc, plast, n_pairs)
        if w < n_words:  # out of room: grow the table and go on
            cap = 2 * len(pkeys)
            pkeys = grow(pkeys, cap)
            pcnt = grow(pcnt, cap)
            pocc = grow(pocc, cap)
            plast = grow(plast, cap)
            pslots = int_rehash(pkeys, n_pairs, table_capacity(cap))

    # --- heap entries: count, pair, positions (a range of the pos pool)
    n_entries = n_pairs
    cap_e = max(n_pairs * 2, 1024)
    ecnt = np.empty(cap_e, np.int64)
    eleft = np.empty(cap_e, np.int32)
    eright = np.empty(cap_e, np.int32)
    estart = np.empty(cap_e, np.int64)
    elen = np.empty(cap_e, np.int64)
    pos_n = 0
    for k in range(n_pairs):
        ecnt[k] = pcnt[k]
        eleft[k] = np.int32(pkeys[k] >> 32)
        eright[k] = np.int32(pkeys[k] & 0xFFFFFFFF)
        estart[k] = pos_n
        elen[k] = 0
        pos_n += pocc[k]
    pos = np.empty(max(pos_n * 2, 1024), np.int32)
    for k in range(n_pairs):
        plast[k] = -1
    for w in range(n_words):
        base = word_offs[w]
        for i in range(wlen[w] - 1):
            k = at[base + i]
            if plast[k] != w:
                plast[k] = w
                pos[estart[k] + elen[k]] = w
                elen[k] += 1
    pocc = pocc[:0]
    plast = plast[:0]

    live = pos_n  # positions held by entries on the heap; the rest of the pool is dead and gets compacted away
    efree = np.empty(1024, np.int64)  # entries whose merge was applied: their slots are reused
    n_free = 0

    heap = np.empty(cap_e, np.int64)
    heap_n = n_entries
    for k in range(n_entries):
        heap[k] = k
    for i in range(heap_n // 2 - 1, -1, -1):
        _sift_down(heap, heap_n, i, ecnt, eleft, eright)

    # --- merge loop
    m_left = np.empty(1024, np.int32)
    m_right = np.empty(1024, np.int32)
    m_new = np.empty(1024, np.int32)
    n_merges = 0
    # per merge: (pair index, word) of every +f change, one row per pair and word; per pair: rows so far, last word
    ch_pair = np.empty(1024, np.int64)
    ch_word = np.empty(1024, np.int32)
    bcnt = np.zeros(len(pkeys), np.int32)
    blast = np.full(len(pkeys), -1, np.int32)
    bstart = np.empty(len(pkeys), np.int64)
    touched = np.empty(1024, np.int64)
    # within one merge: pair index of (other, new) / (new, other) by other's id, to skip the hash table
    nb_left = np.full(max_tokens, EMPTY, np.int64)
    nb_right = np.full(max_tokens, EMPTY, np.int64)
    nb_seen = np.empty(2 * max_tokens + 2, np.int64)
    while n_tokens < vocab_size and heap_n > 0:
        e = heap[0]
        heap_n -= 1
        if heap_n > 0:
            heap[0] = heap[heap_n]
            _sift_down(heap, heap_n, 0, ecnt, eleft, eright)
        a = eleft[e]
        b = eright[e]
        pk, slot = int_find(pslots, pkeys, _pair_key(a, b))
        cur = pcnt[pk]
        if ecnt[e] != cur:
            ecnt[e] = cur
            heap[heap_n] = e
            heap_n += 1
            _sift_up(heap, heap_n - 1, ecnt, eleft, eright)
            continue
        if cur < 1 or min_frequency > cur:
            break
        live -= elen[e]
        efree = grow(efree, n_free + 1)
        efree[n_free] = e
        n_free += 1

        # the new token: bytes(a) + bytes(b), or the id that already has those bytes
        la = poffs[a + 1] - poffs[a]
        lb = poffs[b + 1] - poffs[b]
        p0 = poffs[n_tokens]
        pool = grow(pool, p0 + la + lb)
        pool[p0 : p0 + la] = pool[poffs[a] : poffs[a + 1]]
        pool[p0 + la : p0 + la + lb] = pool[poffs[b] : poffs[b + 1]]
        new, n_tokens = intern_token(pool, poffs, thash, tslots, n_tokens, p0 + la + lb)
        if n_merges >= len(m_left):
            m_left = grow(m_left, n_merges + 1)
            m_right = grow(m_right, n_merges + 1)
            m_new = grow(m_new, n_merges + 1)
        m_left[n_merges] = a
        m_right[n_merges] = b
        m_new[n_merges] = new
        n_merges += 1

        # apply the merge to the entry's words, collecting count changes
        need = 0
        for q in range(estart[e], estart[e] + elen[e]):
            need += wlen[pos[q]]
        if need > len(ch_pair):
            ch_pair = grow(ch_pair, need)
            ch_word = grow(ch_word, need)
            touched = grow(touched, need)
        # room for every pair this merge can create (at most two per distinct neighbour), so the pass never grows
        room = n_pairs + 2 * n_tokens + 2
        if room > len(pkeys):
            pkeys = grow(pkeys, room)
            pcnt = grow(pcnt, room)
        if room > len(bcnt):
            old = len(bcnt)
            bcnt = grow(bcnt, room)
            blast = grow(blast, room)
            bstart = grow(bstart, room)
            bcnt[old:] = 0
            blast[old:] = -1
        if 2 * room + 2 > len(pslots):  # load factor <= 1/2; the capacity doubles as room passes it
            pslots = int_rehash(pkeys, n_pairs, table_capacity(room))
        n_ch, n_touched, n_pairs = _apply_merge(
            pos[estart[e] : estart[e] + elen[e]], a, b, new, syms, at, wlen, word_offs, word_counts,
            pslots, pkeys, pcnt, n_pairs, nb_left, nb_right, nb_seen, bcnt, blast, touched, ch_pair, ch_word,
        )

        # pairs that rose go back on the heap (if their count is > 0) with the words where they rose
        added = 0
        for t in range(n_touched):
            k = touched[t]
            if pcnt[k] > 0:
                added += bcnt[k]
        if pos_n + added > len(pos):
            if 2 * (live + added) <= len(pos):  # mostly dead: compact instead of growing
                pos, pos_n = _compact(pos, heap, heap_n, estart, elen, max(2 * (live + added), 1024))
            else:
                pos = grow(pos, pos_n + added)
        live += added
        for t in range(n_touched):
            k = touched[t]
            if pcnt[k] > 0:
                bstart[k] = pos_n
                pos_n += bcnt[k]
            else:
                bstart[k] = -1
            bcnt[k] = 0
        for c in range(n_ch):
            k = ch_pair[c]
            if bstart[k] >= 0:
                pos[bstart[k] + bcnt[k]] = ch_word[c]
                bcnt[k] += 1
        for t in range(n_touched):
            k = touched[t]
            if bstart[k] >= 0:
                if n_free > 0:
                    n_free -= 1
                    ne = efree[n_free]
                else:
                    ne = n_entries
                    n_entries += 1
                    if ne >= len(ecnt):
                        ecnt = grow(ecnt, ne + 1)
                        eleft = grow(eleft, ne + 1)
                        eright = grow(eright, ne + 1)
                        estart = grow(estart, ne + 1)
                        elen = grow(elen, ne + 1)
                estart[ne] = bstart[k]
                elen[ne] = bcnt[k]
                heap, heap_n = push_entry(heap, heap_n, ne, pcnt[k], pkeys[k], ecnt, eleft, eright)
            bcnt[k] = 0
            blast[k] = -1

    return m_left[:n_merges].copy(), m_right[:n_merges].copy(), m_new[:n_merges].copy()
