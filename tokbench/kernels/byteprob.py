"""numba kernels for exact byte-level probabilities (pure array functions, no I/O, no tokbench imports).

Token bytes are stored flat: ``tb_flat[tb_start[t]:tb_start[t] + tb_len[t]]`` are the bytes of token ``t``.
Merge trees (one per token, from running BPE on the token's own units in isolation) are ``left[t]``, ``right[t]``
(-1 for a leaf) and ``rank[t]`` (rank of the merge that made ``t``; -1 for a leaf).
"""

from __future__ import annotations

import numpy as np

from tokbench.kernels.jit import njit

NEG_INF = -np.inf
BIG = np.int64(1) << np.int64(62)


@njit(cache=True)
def scatter_logsumexp(values, keys, n_keys):
    """out[k] = logsumexp(values[i] for keys[i] == k); keys < 0 are skipped; -inf where empty."""
    mx = np.full(n_keys, -np.inf)
    for i in range(values.shape[0]):
        k = keys[i]
        if k >= 0 and values[i] > mx[k]:
            mx[k] = values[i]
    acc = np.zeros(n_keys)
    for i in range(values.shape[0]):
        k = keys[i]
        if k >= 0 and mx[k] > -np.inf:
            acc[k] += np.exp(values[i] - mx[k])
    out = np.full(n_keys, -np.inf)
    for k in range(n_keys):
        if mx[k] > -np.inf:
            out[k] = mx[k] + np.log(acc[k])
    return out


@njit(cache=True)
def first_byte_mass(logq, valid, fb_start, order):
    """Per first byte b: logsumexp of logq[t] over valid tokens t whose bytes start with b.

    ``order`` lists token ids sorted by their bytes, so the tokens starting with byte b are the contiguous slice
    ``order[fb_start[b]:fb_start[b + 1]]`` (sorted-prefix ranges: no per-token first-byte lookups).
    """
    out = np.full(256, -np.inf)
    for b in range(256):
        lo = fb_start[b]
        hi = fb_start[b + 1]
        mx = -np.inf
        for j in range(lo, hi):
            t = order[j]
            if valid[t] and logq[t] > mx:
                mx = logq[t]
        if mx == -np.inf:
            continue
        s = 0.0
        for j in range(lo, hi):
            t = order[j]
            if valid[t]:
                s += np.exp(logq[t] - mx)
        out[b] = mx + np.log(s)
    return out


@njit(cache=True)
def cover_next_bytes(tok, off, tb_flat, tb_start):
    """The next residual byte of every cover (token tok[i], offset off[i] bytes already consumed)."""
    nb = np.empty(tok.shape[0], np.int64)
    for i in range(tok.shape[0]):
        nb[i] = tb_flat[tb_start[tok[i]] + off[i]]
    return nb


@njit(cache=True)
def advance_covers(tok, off, lp, base, b, tb_flat, tb_start, tb_len,
                   has_t, lpT, logq, valid, fb_start, order, t_base):
    """Advance every cover by byte b and open new covers from the committed state.

    Returns (tok, off, lp, base) of covers that still have a residual, and (tok, lp, base) of covers whose residual
    became empty (these are candidate committed states: base sequence + [tok]).
    """
    n = tok.shape[0]
    cnt = 0
    done = 0
    for i in range(n):
        if tb_flat[tb_start[tok[i]] + off[i]] == b:
            if off[i] + 1 == tb_len[tok[i]]:
                done += 1
            else:
                cnt += 1
    lo = fb_start[b]
    hi = fb_start[b + 1]
    if has_t:
        for j in range(lo, hi):
            t = order[j]
            if valid[t] and logq[t] > -np.inf:
                if tb_len[t] == 1:
                    done += 1
                else:
                    cnt += 1
    ntok = np.empty(cnt, np.int64)
    noff = np.empty(cnt, np.int64)
    nlp = np.empty(cnt)
    nbase = np.empty(cnt, np.int64)
    dtok = np.empty(done, np.int64)
    dlp = np.empty(done)
    dbase = np.empty(done, np.int64)
    c = 0
    d = 0
    for i in range(n):
        if tb_flat[tb_start[tok[i]] + off[i]] == b:
            if off[i] + 1 == tb_len[tok[i]]:
                dtok[d] = tok[i]
                dlp[d] = lp[i]
                dbase[d] = base[i]
                d += 1
            else:
                ntok[c] = tok[i]
                noff[c] = off[i] + 1
                nlp[c] = lp[i]
                nbase[c] = base[i]
                c += 1
    if has_t:
        for j in range(lo, hi):
            t = order[j]
            if valid[t] and logq[t] > -np.inf:
                if tb_len[t] == 1:
                    dtok[d] = t
                    dlp[d] = lpT + logq[t]
                    dbase[d] = t_base
                    d += 1
                else:
                    ntok[c] = t
                    noff[c] = 1
                    nlp[c] = lpT + logq[t]
                    nbase[c] = t_base
                    c += 1
    return ntok, noff, nlp, nbase, dtok, dlp, dbase


@njit(cache=True)
def isolation_trees(unit_flat, unit_start, unit_len, mkeys, mranks, mmerged, n_ids):
    """Run BPE on every token's own units (bytes or characters) in isolation and record the final merge.

    ``mkeys`` (sorted) are left * n_ids + right for every merge, with its rank and merged id alongside.
    Returns left, right, rank, reachable (BPE of the token's units gives exactly [token]).
    """
    V = unit_start.shape[0]
    left = np.full(V, -1, np.int64)
    right = np.full(V, -1, np.int64)
    rank = np.full(V, -1, np.int64)
    reach = np.zeros(V, np.bool_)
    buf = np.empty(1024, np.int64)
    for t in range(V):
        n = unit_len[t]
        if n <= 0 or n > 1024:
            continue
        ok = True
        for i in range(n):
            u = unit_flat[unit_start[t] + i]
            if u < 0:
                ok = False
            buf[i] = u
        if not ok:
            continue
        if n == 1:
            reach[t] = buf[0] == t
            continue
        last_l = -1
        last_r = -1
        last_rank = -1
        while n > 1:
            best = BIG
            bi = -1
            bm = -1
            for i in range(n - 1):
                key = buf[i] * n_ids + buf[i + 1]
                k = np.searchsorted(mkeys, key)
                if k < mkeys.shape[0] and mkeys[k] == key and mranks[k] < best:
                    best = mranks[k]
                    bi = i
                    bm = mmerged[k]
            if bi < 0:
                break
            last_l = buf[bi]
            last_r = buf[bi + 1]
            last_rank = best
            buf[bi] = bm
            for i in range(bi + 1, n - 1):
                buf[i] = buf[i + 1]
            n -= 1
        if n == 1 and buf[0] == t:
            reach[t] = True
            left[t] = last_l
            right[t] = last_r
            rank[t] = last_rank
    return left, right, rank, reach


@njit(cache=True)
def effective_times(left, right, rank, tb_len):
    """eff[t]: when the merge that makes t can happen, on the rank scale. BPE applies the lowest-ranked available
    pair, so a merge waits for its parts: eff = max(rank, eff of both parts). Equal to rank for merge lists trained
    in order; converted lists (tiktoken ranks) are not monotone."""
    V = left.shape[0]
    order = np.argsort(tb_len, kind="mergesort")
    eff = rank.copy()
    for i in range(V):
        t = order[i]
        if left[t] >= 0:
            e = rank[t]
            if eff[left[t]] > e:
                e = eff[left[t]]
            if eff[right[t]] > e:
                e = eff[right[t]]
            eff[t] = e
    return eff


@njit(cache=True)
def pair_valid_mask(a, left, right, rank, eff, reach, by_left_start, by_left_right, by_left_rank):
    """valid[t]: BPE of bytes(a) + bytes(t) (one pre-token) gives exactly [a, t] (pairwise canonicality).

    A cross merge (u, v) of rank r fires first iff u is on a's right spine and v on t's left spine, and it comes
    before the merges that consume u (in a) and v (in t). Merges are ordered by (effective time, rank): a merge
    happens once both parts exist (effective_times) and the lowest rank goes first; on a tie of the same pair the
    left one wins. Merges whose left side is u are by_left_*[by_left_start[u]:by_left_start[u + 1]].
    """
    S = np.int64(1) << np.int64(20)
    V = left.shape[0]
    mcross = np.full(V, BIG, np.int64)
    u = a
    cu = BIG
    while u >= 0:
        for k in range(by_left_start[u], by_left_start[u + 1]):
            r = by_left_rank[k]
            v = by_left_right[k]
            tm = r
            if eff[u] > tm:
                tm = eff[u]
            if eff[v] > tm:
                tm = eff[v]
            key = tm * S + r
            if key < cu and key < mcross[v]:
                mcross[v] = key
        if right[u] >= 0:
            cu = eff[u] * S + rank[u]
        u = right[u]
    valid = np.zeros(V, np.bool_)
    for t in range(V):
        if not reach[t]:
            continue
        v = t
        cv = BIG
        bad = False
        while v >= 0:
            if mcross[v] < BIG and mcross[v] <= cv:
                bad = True
                break
            if left[v] >= 0:
                cv = eff[v] * S + rank[v]
            v = left[v]
        valid[t] = not bad
    return valid
