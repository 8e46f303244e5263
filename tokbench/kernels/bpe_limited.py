"""Kernels for the supertoken trainers: the stage-2 (SuperBPE) pre-tokenizer scanner, random-length chunking
(TokenAdapt), and a BPE merge loop that can resume from given merges and refuses merges whose token would hold too
many words or characters.

Pure functions on arrays: no I/O, no tokbench imports.
"""

import numpy as np

from tokbench.kernels.bpe_train import _insert_pair, _pair_key, _sift_down, _sift_up, push_entry
from tokbench.kernels.jit import njit
from tokbench.kernels.pretokenize import LETTER, NUMBER, SPACE
from tokbench.kernels.tables import (EMPTY, grow, int_find, int_rehash, intern_token,
                                     table_capacity, token_table)

LIMIT_NONE, LIMIT_WORDS, LIMIT_CHARS = 0, 1, 2

# The stage-2 split. A piece is a run of letters and single punctuation marks joined by single spaces (a space before
# it joins it, as in GPT-2), with the line end that follows it: "Hello, world.\n" is one piece. Runs of 2+
# punctuation marks (with trailing newlines) are pieces of their own, and so are whitespace runs (newlines, tabs,
# several spaces), as in GPT-2. Digits keep stage 1's
# rule: groups of 1-3 after cl100k/llama3 (DIGITS3), any run with an optional space before it after gpt2 (so stage 1's
# number tokens stay usable). `split_super` reproduces exactly what `regex` finds with these, line by line.
_UNIT = r"""(?:\p{L}+|[^\s\p{L}\p{N}](?![^\s\p{L}\p{N}]))"""
_REST = r"""| ?[^\s\p{L}\p{N}]{2,}[\r\n]*| ?""" + _UNIT + "(?: ?" + _UNIT + r""")*[\r\n]*|\s+(?!\S)|\s+"""
SUPER_PATTERN_DIGITS3 = r"""\p{N}{1,3}""" + _REST
SUPER_PATTERN_DIGITS = r""" ?\p{N}+""" + _REST
_ANY = LETTER | NUMBER | SPACE


# --- stage-2 scanner ------------------------------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _run(cps, i, hi, cls, bits):
    while i < hi and cls[cps[i]] & bits:
        i += 1
    return i


@njit(cache=True, inline="always")
def _punct(cps, i, hi, cls):
    return i < hi and not (cls[cps[i]] & _ANY)


@njit(cache=True, inline="always")
def _unit(cps, i, hi, cls):
    """End of `\\p{L}+|P(?!P)` at i (P: punctuation), or -1."""
    if i >= hi:
        return -1
    if cls[cps[i]] & LETTER:
        return _run(cps, i, hi, cls, LETTER)
    if _punct(cps, i, hi, cls) and not _punct(cps, i + 1, hi, cls):
        return i + 1
    return -1


@njit(cache=True)
def _super_piece(cps, i, hi, cls, digits3):
    c = cps[i]
    j = i + 1 if c == 32 else i  # ` ?`: a leading space joins the piece when the rest matches
    if digits3:
        if cls[c] & NUMBER:
            return min(_run(cps, i, hi, cls, NUMBER), i + 3)
    elif j < hi and cls[cps[j]] & NUMBER:
        return _run(cps, j, hi, cls, NUMBER)
    if _punct(cps, j, hi, cls) and _punct(cps, j + 1, hi, cls):
        e = j
        while _punct(cps, e, hi, cls):
            e += 1
        while e < hi and (cps[e] == 10 or cps[e] == 13):
            e += 1
        return e
    e = _unit(cps, j, hi, cls)
    if e > 0:
        while e < hi:
            u = _unit(cps, e + 1, hi, cls) if cps[e] == 32 else _unit(cps, e, hi, cls)
            if u < 0:
                break
            e = u
        while e < hi and (cps[e] == 10 or cps[e] == 13):
            e += 1
        return e
    e = _run(cps, i, hi, cls, SPACE)  # \s+(?!\S)|\s+
    if e < hi and e - 1 > i:
        return e - 1
    return e


@njit(cache=True)
def split_super(cps, bounds, cls, digits3):
    """Spans of the stage-2 pieces (SUPER_PATTERN_DIGITS3 if digits3 else SUPER_PATTERN_DIGITS) of every line
    cps[bounds[j]:bounds[j+1]] (class table of `pretokenize`)."""
    starts = np.empty(len(cps), np.int32)
    ends = np.empty(len(cps), np.int32)
    n = 0
    for j in range(len(bounds) - 1):
        i = bounds[j]
        hi = bounds[j + 1]
        while i < hi:
            e = _super_piece(cps, i, hi, cls, digits3)
            starts[n] = i
            ends[n] = e
            n += 1
            i = e
    return starts[:n], ends[:n]


@njit(cache=True)
def chunk_spans(bounds, whole, lengths):
    """Cut each segment [bounds[j], bounds[j+1]) into consecutive pieces of lengths[0], lengths[1], ... in order (a
    segment's last piece cut short); a segment with whole[j] is one piece and takes no length. One length per piece:
    len(lengths) >= the number of code points always suffices. Returns (starts, ends, lengths used)."""
    starts = np.empty(len(lengths) + len(whole), np.int64)
    ends = np.empty(len(lengths) + len(whole), np.int64)
    n = 0
    used = 0
    for j in range(len(bounds) - 1):
        i = bounds[j]
        hi = bounds[j + 1]
        if whole[j] and hi > i:
            starts[n] = i
            ends[n] = hi
            n += 1
            continue
        while i < hi:
            e = min(i + lengths[used], hi)
            used += 1
            starts[n] = i
            ends[n] = e
            n += 1
            i = e
    return starts[:n], ends[:n], used


# --- limits on a token's bytes --------------------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _is_space(b):
    return b == 32 or (9 <= b <= 13)


@njit(cache=True, inline="always")
def _is_wordy(b):
    return (48 <= b <= 57) or (65 <= b <= 90) or (97 <= b <= 122) or b >= 0x80


@njit(cache=True)
def count_words(buf, start, end):
    """Words in buf[start:end]: maximal runs of non-whitespace bytes holding a letter or digit (any byte >= 0x80
    counts as one), so ", and the" has 2 and "Hello, world." has 2."""
    n = 0
    in_run = False
    counted = False
    for i in range(start, end):
        b = buf[i]
        if _is_space(b):
            in_run = False
            continue
        if not in_run:
            in_run = True
            counted = False
        if not counted and _is_wordy(b):
            n += 1
            counted = True
    return n


@njit(cache=True)
def count_chars(buf, start, end):
    """Characters in buf[start:end]: UTF-8 lead bytes, plus one for a leading fragment of continuation bytes."""
    n = 0
    for i in range(start, end):
        if buf[i] & 0xC0 != 0x80:
            n += 1
    if end > start and buf[start] & 0xC0 == 0x80:
        n += 1
    return n


@njit(cache=True)
def _breaks_limit(pool, start, end, limit_kind, limit):
    if limit_kind == LIMIT_WORDS:
        return count_words(pool, start, end) > limit
    if limit_kind == LIMIT_CHARS:
        return count_chars(pool, start, end) > limit
    return False


# --- the merge loop over pair positions (long words) ----------------------------------------------------------------


@njit(cache=True)
def _add_block(pk, positions, n_new, phead, bstart, blen, bnext, n_blocks, ppos, n_ppos):
    """Append positions[:n_new] to pair pk's list of position blocks; returns the grown arrays and counters."""
    bstart = grow(bstart, n_blocks + 1)
    blen = grow(blen, n_blocks + 1)
    bnext = grow(bnext, n_blocks + 1)
    ppos = grow(ppos, n_ppos + n_new)
    ppos[n_ppos : n_ppos + n_new] = positions[:n_new]
    bstart[n_blocks] = n_ppos
    blen[n_blocks] = n_new
    bnext[n_blocks] = phead[pk]
    phead[pk] = n_blocks
    return bstart, blen, bnext, n_blocks + 1, ppos, n_ppos + n_new


@njit(cache=True)
def _room(pslots, pkeys, pcnt, n_pairs, extra):
    """Arrays with room for `extra` more pairs at load factor <= 1/2."""
    need = n_pairs + extra
    if need > len(pkeys):
        pkeys = grow(pkeys, need)
        pcnt = grow(pcnt, need)
    if 2 * need + 2 > len(pslots):
        pslots = int_rehash(pkeys, n_pairs, table_capacity(2 * need))
    return pslots, pkeys, pcnt


@njit(cache=True, inline="always")
def _repoint(pslots, pkeys, pcnt, n_pairs, key, counting, old, f, ch_k, ch_pos, n_ch, pos):
    """The pair starting at `pos` becomes `key`: interned, its count moved over from pair `old` (when counting) and
    the change logged; returns (key's pair index, n_pairs, n_ch)."""
    k, n_pairs = _insert_pair(pslots, pkeys, pcnt, n_pairs, key)
    if counting:
        pcnt[old] -= f
        pcnt[k] += f
    ch_k[n_ch] = k
    ch_pos[n_ch] = pos
    return k, n_pairs, n_ch + 1


@njit(cache=True)
def train_merges_resume(word_syms, word_offs, word_counts, tok_pool, tok_offs, forced_left, forced_right, forced_new,
                        vocab_size, min_frequency, limit_kind, limit):
    """Replay the merges `forced_*` (rank order, new ids < n_init) on the words, then keep merging greedily.

    For words of many symbols (SuperBPE's stage 2, where a word is a whole phrase): each pair keeps the positions where
    it occurs, so a merge costs its occurrences, not the length of the words holding it. Replaying merges in rank
    order over all words equals encoding each word with them (lowest rank first, leftmost first): a merge only makes
    pairs holding its new token, whose merges rank later. The greedy phase takes the pair of highest count, ties to
    the smallest (left, right) id pair, merges it everywhere left to right without overlaps, and refuses pairs that
    break the limit (LIMIT_WORDS / LIMIT_CHARS). Word syms may be any ids < n_init (tok_pool / tok_offs: their bytes).
    Returns (left, right, new_id, refused): the greedy merges in order made (int32), and how many times a pair was
    refused for the limit."""
    n_words = len(word_counts)
    n_init = len(tok_offs) - 1
    n_sym = len(word_syms)
    sym = word_syms.copy()
    nxt = np.empty(n_sym, np.int32)
    prv = np.empty(n_sym, np.int32)
    wid = np.empty(n_sym, np.int32)
    for w in range(n_words):
        for p in range(word_offs[w], word_offs[w + 1]):
            wid[p] = w
            prv[p] = p - 1 if p > word_offs[w] else -1
            nxt[p] = p + 1 if p + 1 < word_offs[w + 1] else -1

    # --- token bytes, to reuse the id of an existing concatenation
    max_tokens = max(vocab_size, n_init) + 1
    pool, poffs, thash, tslots = token_table(tok_pool, tok_offs, n_init, max_tokens)
    n_tokens = n_init

    # --- pairs: index, count, and a linked list of position blocks
    n_pairs = 0
    pkeys = np.empty(1024, np.int64)
    pcnt = np.zeros(1024, np.int64)
    pslots = np.full(table_capacity(1024), EMPTY, np.int64)
    pidx = np.full(n_sym, -1, np.int32)  # the pair starting at each position (kept up to date)
    for p in range(n_sym):
        if nxt[p] >= 0:
            if 2 * n_pairs + 4 > len(pslots) or n_pairs + 1 > len(pkeys):
                pslots, pkeys, pcnt = _room(pslots, pkeys, pcnt, n_pairs, n_pairs + 1)
            k, n_pairs = _insert_pair(pslots, pkeys, pcnt, n_pairs, _pair_key(sym[p], sym[nxt[p]]))
            pidx[p] = k
            pcnt[k] += word_counts[wid[p]]
    ppos = np.empty(max(n_sym, 1024), np.int32)
    bstart = np.empty(max(n_pairs, 1024), np.int64)
    blen = np.zeros(max(n_pairs, 1024), np.int64)
    bnext = np.full(max(n_pairs, 1024), -1, np.int64)
    phead = np.full(max(n_pairs, 1024), -1, np.int64)
    for p in range(n_sym):
        if nxt[p] >= 0:
            blen[pidx[p]] += 1
    n_ppos = 0
    for k in range(n_pairs):
        bstart[k] = n_ppos
        n_ppos += blen[k]
        blen[k] = 0
        phead[k] = k
    n_blocks = n_pairs
    for p in range(n_sym):
        if nxt[p] >= 0:
            k = pidx[p]
            ppos[bstart[k] + blen[k]] = p
            blen[k] += 1

    n_forced = len(forced_left)
    m_left = np.empty(1024, np.int32)
    m_right = np.empty(1024, np.int32)
    m_new = np.empty(1024, np.int32)
    n_merges = 0
    refused_n = 0
    refused = np.zeros(1024, np.bool_)
    ch_k = np.empty(1024, np.int32)  # per new pair occurrence: its pair index and position
    ch_pos = np.empty(1024, np.int32)
    gcnt = np.zeros(1024, np.int64)  # scratch for grouping them (all zero between merges)
    glist = np.empty(1024, np.int32)
    gstart = np.empty(1024, np.int64)
    gather = np.empty(1024, np.int32)
    heap = np.empty(1024, np.int64)
    heap_n = 0
    ecnt = np.empty(1024, np.int64)
    eleft = np.empty(1024, np.int32)
    eright = np.empty(1024, np.int32)
    n_entries = 0

    step = 0
    while True:
        # --- choose the next merge
        if step < n_forced:
            a = forced_left[step]
            b = forced_right[step]
            new = forced_new[step]
            step += 1
            pk, slot = int_find(pslots, pkeys, _pair_key(a, b))
            if pk == EMPTY:
                continue
        else:
            if step == n_forced:  # replay done: count the pairs now present, fill the heap
                step += 1
                if n_forced > 0:  # counts were not kept while replaying
                    pcnt[:n_pairs] = 0
                    for p in range(n_sym):
                        if sym[p] >= 0 and nxt[p] >= 0:
                            pcnt[pidx[p]] += word_counts[wid[p]]
                refused = np.zeros(len(pcnt), np.bool_)
                heap = np.empty(max(n_pairs, 1024), np.int64)
                ecnt = np.empty(max(n_pairs, 1024), np.int64)
                eleft = np.empty(max(n_pairs, 1024), np.int32)
                eright = np.empty(max(n_pairs, 1024), np.int32)
                for k in range(n_pairs):
                    if pcnt[k] > 0:
                        ecnt[n_entries] = pcnt[k]
                        eleft[n_entries] = np.int32(pkeys[k] >> 32)
                        eright[n_entries] = np.int32(pkeys[k] & 0xFFFFFFFF)
                        heap[n_entries] = n_entries
                        n_entries += 1
                heap_n = n_entries
                for i in range(heap_n // 2 - 1, -1, -1):
                    _sift_down(heap, heap_n, i, ecnt, eleft, eright)
            if n_tokens >= vocab_size or heap_n == 0:
                break
            e = heap[0]
            heap_n -= 1
            if heap_n > 0:
                heap[0] = heap[heap_n]
                _sift_down(heap, heap_n, 0, ecnt, eleft, eright)
            a = eleft[e]
            b = eright[e]
            pk, slot = int_find(pslots, pkeys, _pair_key(a, b))
            if refused[pk]:
                continue
            cur = pcnt[pk]
            if ecnt[e] != cur:
                if cur > 0:
                    ecnt[e] = cur
                    heap[heap_n] = e
                    heap_n += 1
                    _sift_up(heap, heap_n - 1, ecnt, eleft, eright)
                continue
            if cur < 1 or min_frequency > cur:
                break
            la = poffs[a + 1] - poffs[a]
            lb = poffs[b + 1] - poffs[b]
            p0 = poffs[n_tokens]
            pool = grow(pool, p0 + la + lb)
            pool[p0 : p0 + la] = pool[poffs[a] : poffs[a + 1]]
            pool[p0 + la : p0 + la + lb] = pool[poffs[b] : poffs[b + 1]]
            if _breaks_limit(pool, p0, p0 + la + lb, limit_kind, limit):
                refused[pk] = True
                refused_n += 1
                continue
            new, n_tokens = intern_token(pool, poffs, thash, tslots, n_tokens, p0 + la + lb)
            if n_merges >= len(m_left):
                m_left = grow(m_left, n_merges + 1)
                m_right = grow(m_right, n_merges + 1)
                m_new = grow(m_new, n_merges + 1)
            m_left[n_merges] = a
            m_right[n_merges] = b
            m_new[n_merges] = new
            n_merges += 1
        counting = step > n_forced

        # --- the pair's positions, in order (lists may hold stale or repeated positions)
        n_g = 0
        blk = phead[pk]
        while blk >= 0:
            gather = grow(gather, n_g + blen[blk])
            gather[n_g : n_g + blen[blk]] = ppos[bstart[blk] : bstart[blk] + blen[blk]]
            n_g += blen[blk]
            blk = bnext[blk]
        phead[pk] = -1
        order = np.sort(gather[:n_g])

        # --- merge left to right, logging the pairs made
        pslots, pkeys, pcnt = _room(pslots, pkeys, pcnt, n_pairs, 2 * n_g)
        ch_k = grow(ch_k, 2 * n_g)
        ch_pos = grow(ch_pos, 2 * n_g)
        n_ch = 0
        last = -1
        for t in range(n_g):
            p = order[t]
            if p == last:
                continue
            last = p
            q = nxt[p]
            if sym[p] != a or q < 0 or sym[q] != b:
                continue
            f = word_counts[wid[p]]
            pp = prv[p]
            nn = nxt[q]
            if pp >= 0:
                pidx[pp], n_pairs, n_ch = _repoint(pslots, pkeys, pcnt, n_pairs, _pair_key(sym[pp], new), counting,
                                                   pidx[pp], f, ch_k, ch_pos, n_ch, pp)
            pidx[p] = -1
            if nn >= 0:
                pidx[p], n_pairs, n_ch = _repoint(pslots, pkeys, pcnt, n_pairs, _pair_key(new, sym[nn]), counting,
                                                  pidx[q], f, ch_k, ch_pos, n_ch, p)
            pidx[q] = -1
            sym[p] = new
            sym[q] = -1
            nxt[p] = nn
            if nn >= 0:
                prv[nn] = p
        pcnt[pk] = 0

        # --- new positions go to their pairs' lists; pairs that rose go on the heap
        if n_pairs > len(phead):
            old = len(phead)
            phead = grow(phead, n_pairs)
            phead[old:] = -1
        if n_pairs > len(refused):
            old = len(refused)
            refused = grow(refused, n_pairs)
            refused[old:] = False
        if n_ch == 0:
            continue
        # group the new positions by pair (counting sort: positions stay ascending within a pair)
        if n_pairs > len(gcnt):
            old = len(gcnt)
            gcnt = grow(gcnt, n_pairs)
            gcnt[old:] = 0
        glist = grow(glist, n_ch)
        gstart = grow(gstart, n_ch)
        gather = grow(gather, n_ch)
        n_grp = 0
        for t in range(n_ch):
            k = ch_k[t]
            if gcnt[k] == 0:
                glist[n_grp] = k
                n_grp += 1
            gcnt[k] += 1
        at = 0
        for g in range(n_grp):
            k = glist[g]
            c = gcnt[k]
            gcnt[k] = at
            gstart[g] = at
            at += c
        for t in range(n_ch):
            k = ch_k[t]
            gather[gcnt[k]] = ch_pos[t]
            gcnt[k] += 1
        for g in range(n_grp):
            k = glist[g]
            s0 = gstart[g]
            e0 = gcnt[k]
            gcnt[k] = 0
            bstart, blen, bnext, n_blocks, ppos, n_ppos = _add_block(
                k, gather[s0:e0], e0 - s0, phead, bstart, blen, bnext, n_blocks, ppos, n_ppos)
            if counting and pcnt[k] > 0 and not refused[k]:
                ecnt = grow(ecnt, n_entries + 1)
                eleft = grow(eleft, n_entries + 1)
                eright = grow(eright, n_entries + 1)
                heap, heap_n = push_entry(heap, heap_n, n_entries, pcnt[k], pkeys[k], ecnt, eleft, eright)
                n_entries += 1

    return m_left[:n_merges].copy(), m_right[:n_merges].copy(), m_new[:n_merges].copy(), refused_n
