"""Canonical-validity masks: which tokens t may follow a committed canonical sequence T.

The truth is the re-encode check ``encode(bytes(T) + bytes(t)) == T + [t]`` (:class:`ReencodeValidity`); for BPE
tokenizers :class:`BPEValidity` gets the same answer fast from

* pairwise canonicality inside one pre-token (merge trees of the two tokens; ``kernels.pair_valid_mask``),
* where the pre-tokenizer puts the boundary between T's last pre-token and t, evaluated once per *class signature*
  (characters replaced by representatives of the classes the pre-tokenizer regexes can tell apart) and cached,
* UTF-8 consistency (a token may only continue a character the text has started), special tokens excluded.

T + [t] only has to be a canonical *prefix*: what follows t may change the cut. Pre-tokenizers look ahead past
whitespace (`\\s+(?!\\S)` gives a space run's last space to the next word), so a token ending in whitespace is also
tried with a letter, a digit and a symbol after it (``LOOKAHEAD``); a token ending inside a character is tried with
every class its completions can take. A committed state that is not enc(y) itself (an alternative cut of a whitespace
run, ``ALT_PROBES``) is held to the cut it was made with, not to the cut of y at the end of the text.
"""

from __future__ import annotations

import functools
import unicodedata
from collections import OrderedDict
from functools import lru_cache

import numpy as np

from tokbench.byteprob.tables import VocabTables, pending_continuations, utf8_shape
from tokbench.kernels import byteprob as K

SPLIT, JOIN, BAD, RECHUNK, RECHECK = 0, 1, 2, 3, 4  # RECHUNK: split, but T's last pre-tokens are cut anew;
# RECHECK: joined and cut anew (rare: after whitespace runs): each such token is re-encoded
_CONTRACTION = set("strevmldSTREVMLD")
_SPACES = " \t\n\r"  # the whitespace class representatives of _char_class
# what may follow a token ending in whitespace (the regexes' lookahead sees one character: letter, digit or other)
LOOKAHEAD = ("", "x", "0", "!")
# continuations that reveal other canonical cuts of a text ending in whitespace (ByteLM's alternative states)
ALT_PROBES = ("x", "0", "!", " x", "\n", "'", "\t")


@lru_cache(maxsize=None)
def _char_class(c: str) -> str:
    """A representative of c's class for the usual pre-tokenizer regexes (letters, numbers, spaces, newlines, ')."""
    if c in " \r\n'":
        return c
    if c.isspace() and not "\x1c" <= c <= "\x1f":  # regex \s is Unicode White_Space; str.isspace adds \x1c-\x1f
        return "\t"
    cat = unicodedata.category(c)
    if cat[0] == "L":
        return "x"
    if cat[0] == "N":
        return "0"
    return "!"


@lru_cache(maxsize=None)
def _partial_class(frag: bytes) -> str:
    """Class of an unfinished character: the majority class over its completions (a guess; resync covers misses)."""
    need = utf8_shape(frag)[2]
    votes: dict[str, int] = {}
    for last in range(0x80, 0xC0):
        cand = frag + b"\x80" * (need - 1) + bytes([last])
        try:
            ch = cand.decode("utf-8")
        except UnicodeDecodeError:
            continue
        k = _char_class(ch)
        votes[k] = votes.get(k, 0) + 1
    return max(sorted(votes), key=votes.get) if votes else "!"


@lru_cache(maxsize=None)
def _completions(frag: bytes) -> tuple[tuple[str, frozenset], ...]:
    """The classes of the characters that complete an unfinished one, each with the first missing bytes that lead
    to it (a token ending in the fragment is valid if any class fits and the BPE lets it stand next to its completion)."""
    need = utf8_shape(frag)[2]
    bits = frag[0] & (0x7F >> (len(frag) + need))
    for b in frag[1:]:
        bits = (bits << 6) | (b & 0x3F)
    lo = bits << (6 * need)
    found: dict[str, set] = {}
    for cp in range(lo, min(lo + (1 << (6 * need)), 0x110000)):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        enc = chr(cp).encode("utf-8")
        if enc.startswith(frag):
            found.setdefault(_char_class(chr(cp)), set()).add(enc[len(frag)])
    return tuple((c, frozenset(v)) for c, v in sorted(found.items()))


def _split_unfinished(data: bytes) -> tuple[bytes, bytes]:
    """(data up to its unfinished last character, that character's bytes); leading continuation bytes dropped."""
    lead, ok, owed = utf8_shape(data)
    body = data[lead:]
    if not owed:
        return body, b""
    i = len(body) - 1
    while i > 0 and 0x80 <= body[i] <= 0xBF:
        i -= 1
    return body[:i], body[i:]


def _classes(data: bytes, keep_head: int = 0, guess_tail: bool = True) -> str:
    """Class string of a byte fragment: leading continuation bytes dropped, an unfinished last char guessed (or left
    off with guess_tail=False)."""
    body, tail = _split_unfinished(data)
    text = body.decode("utf-8", errors="replace")
    out = []
    since_quote = 99
    for i, c in enumerate(text):
        if c in _CONTRACTION and (i < keep_head or since_quote <= 2):
            out.append(c)
        else:
            out.append(_char_class(c))
        since_quote = 0 if c == "'" else since_quote + 1
    if tail and guess_tail:
        out.append(_partial_class(tail))
    return "".join(out)


def _cap_runs(s: str, cap: int = 4, digits_mod3_at_end: bool = False) -> str:
    """Shorten runs of one class (the regexes cannot count past a few); a trailing digit run keeps its length mod 3."""
    out = []
    i = 0
    n = len(s)
    while i < n:
        j = i
        while j < n and s[j] == s[i]:
            j += 1
        k = j - i
        if s[i] == "0" and digits_mod3_at_end and j == n:
            k = (k - 1) % 3 + 1
        elif s[i] in "x!":  # letters and symbols: the regexes only see "one or more"
            k = min(k, 2)
        else:
            k = min(k, cap)
        out.append(s[i] * k)
        i = j
    return "".join(out)


class ReencodeValidity:
    """The definition itself: re-encode bytes(T) + bytes(t) for every candidate t (slow; small vocabularies, tests)."""

    kind = "reencode"

    def __init__(self, encode_bytes, tables: VocabTables):
        self.encode_bytes = encode_bytes
        self.tables = tables

    def mask(self, T: tuple[int, ...], y: bytes) -> np.ndarray:
        tb = self.tables.token_bytes
        base = self.tables.utf8_ok[pending_continuations(y)].copy()
        for t in np.nonzero(base)[0]:
            enc = self.encode_bytes(y + tb[t])
            if enc is None:  # unfinished character: cannot re-encode, keep the UTF-8 consistent candidates
                continue
            base[t] = list(enc) == [*T, int(t)]
        return base


class BPEValidity:
    """Fast exact mask for BPE tokenizers: pair checks from merge trees plus cached pre-tokenizer boundary classes."""

    kind = "bpe"

    def __init__(self, tables: VocabTables, merges, units, pre_tokenize, ignore_merges: bool = False,
                 encode_bytes=None, fallback: np.ndarray | None = None):
        """``merges``: (left, right, merged) ids in rank order; ``units[t]``: unit ids of token t (bytes or chars),
        ``pre_tokenize(text) -> list[(start, end)]`` or None when there is no pre-tokenizer."""
        self.tables = tables
        V = tables.V
        n_ids = V + 1
        m = np.asarray(merges, np.int64).reshape(-1, 3)
        keys = m[:, 0] * n_ids + m[:, 1]
        ranks = np.arange(len(m), dtype=np.int64)
        # keep the first (lowest-rank) occurrence of a pair
        o = np.lexsort((ranks, keys))
        keys, ranks, merged = keys[o], ranks[o], m[o, 2]
        first = np.ones(len(keys), bool)
        first[1:] = keys[1:] != keys[:-1]
        keys, ranks, merged, lr = keys[first], ranks[first], merged[first], m[o][first]
        flat = np.array([u for us in units for u in us], np.int64)
        ulen = np.array([len(us) for us in units], np.int64)
        ustart = np.zeros(V, np.int64)
        if V > 1:
            ustart[1:] = np.cumsum(ulen)[:-1]
        self.left, self.right, self.rank, self.reach = K.isolation_trees(flat, ustart, ulen, keys, ranks, merged, n_ids)
        self.reach &= tables.usable
        self.eff = K.effective_times(self.left, self.right, self.rank, tables.tb_len)
        o2 = np.lexsort((ranks, lr[:, 0]))
        self.bl_right = lr[o2, 1].copy()
        self.bl_rank = ranks[o2].copy()
        self.bl_start = np.searchsorted(lr[o2, 0], np.arange(V + 1)).astype(np.int64)
        self.pre_tokenize = pre_tokenize
        self.encode_bytes = encode_bytes
        self.ignore_merges = ignore_merges
        self._pair_cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._bound_cache: dict[str, np.ndarray] = {}
        self._mask_cache: OrderedDict[tuple, np.ndarray] = OrderedDict()
        tb = tables.token_bytes
        self.fallback = np.zeros(V, bool) if fallback is None else fallback & tables.usable
        for t in np.nonzero(self.fallback)[0]:  # an ASCII character the vocabulary has is never spelt in bytes
            if tb[t][0] < 0x80 and self.reach[tables.by_bytes.get(tb[t], t)] and tables.by_bytes.get(tb[t], t) != t:
                self.fallback[t] = False
        # Class signatures. A token ending inside a character has one variant per class its completions can take;
        # tokens that start inside a character are marked: they can only join the last pre-token.
        var_tok, var_str, var_next = [], [], []
        for t in range(V):
            if tables.usable[t]:
                for sig, nexts in self._variants(tb[t]):
                    var_tok.append(t)
                    var_str.append(sig)
                    var_next.append(nexts)
        uniq, inv = np.unique(np.array(var_str, dtype=object), return_inverse=True)
        self.sig_strings = list(uniq)
        self.var_tok = np.array(var_tok, np.int64)
        self.var_sig = inv.astype(np.int64)
        # a token can only come out of the tokenizer if its bytes form one pre-token on their own
        if pre_tokenize is None:
            pure = np.ones(len(self.var_tok), bool)
        else:
            pure = np.array([self._one_chunk(s) for s in self.sig_strings])[self.var_sig]
        # a token ending inside a character must also survive next to the rest of that character: some token u
        # starting with a byte that completes it to this variant's class must pair canonically with it
        self.var_right = np.ones(len(self.var_tok), bool)
        firsts = {}
        for i in (i for i, nx in enumerate(var_next) if nx is not None):
            t = int(self.var_tok[i])
            if t not in firsts:
                firsts[t] = set(np.unique(tables.first_byte[self._pair_mask(t) & self.reach]).tolist())
            self.var_right[i] = bool(firsts[t] & var_next[i])
        self.var_split_ok = pure & (self.reach | ignore_merges)[self.var_tok] & self.var_right
        self.split_ok = np.zeros(V, bool)
        self.split_ok[self.var_tok[self.var_split_ok]] = True
        self._right_cache: dict[int, np.ndarray] = {}

    @staticmethod
    def _variants(data: bytes) -> list[tuple[str, frozenset | None]]:
        """(class signature, first bytes that complete the last character to it, None if complete) per variant."""
        mark = "\x00" if 0x80 <= data[0] <= 0xBF else ""
        tail = _split_unfinished(data)[1]
        head = _classes(data, keep_head=2, guess_tail=False)
        if not tail:
            return [(mark + _cap_runs(head), None)]
        return [(mark + _cap_runs(head + c), nexts) for c, nexts in _completions(tail)]

    def _one_chunk(self, s: str) -> bool:
        return len(self.pre_tokenize(s.lstrip("\x00"))) <= 1

    def pair_mask(self, a: int) -> np.ndarray:
        hit = self._pair_cache.get(a)
        if hit is not None:
            self._pair_cache.move_to_end(a)
            return hit
        mask = self._pair_mask(a)
        self._pair_cache[a] = mask
        if len(self._pair_cache) > 512:
            self._pair_cache.popitem(last=False)
        return mask

    def _pair_mask(self, a: int) -> np.ndarray:
        if self.fallback[a]:  # byte-fallback pieces take part in no merge
            return self.reach | self.fallback
        if not self.reach[a]:
            return np.zeros(self.tables.V, bool)
        return K.pair_valid_mask(a, self.left, self.right, self.rank, self.eff, self.reach,
                                 self.bl_start, self.bl_right, self.bl_rank)

    def _right_ok(self, probe: int) -> np.ndarray:
        """ok[t]: t can be followed, inside one pre-token, by a token of the lookahead probe's class (t + that
        token is pairwise canonical); only tokens ending in whitespace are asked."""
        hit = self._right_cache.get(probe)
        if hit is not None:
            return hit
        tables = self.tables
        want = LOOKAHEAD[probe]
        tb = tables.token_bytes
        follow = np.zeros(tables.V, bool)
        for t in np.nonzero(tables.usable & self.reach)[0]:
            try:
                text = tb[t].decode("utf-8")
            except UnicodeDecodeError:
                continue
            follow[t] = all(_char_class(c) == want for c in text)
        ok = np.zeros(tables.V, bool)
        ends_ws = [t for t in np.nonzero(tables.usable)[0] if _classes(tb[t])[-1:] in tuple(_SPACES)]
        for t in ends_ws:
            ok[t] = bool((self._pair_mask(int(t)) & follow).any())
        self._right_cache[probe] = ok
        return ok

    def _tail(self, y: bytes) -> tuple[str, bytes, bytes]:
        """Class signature of the last pre-tokens of y (enough context for the regex), the last pre-token's bytes
        and the bytes of those last pre-tokens."""
        if self.pre_tokenize is None:
            return "", b"", b""
        window = y[-96:]
        lead = utf8_shape(window)[0]
        window = window[lead:]
        body = window[: self._complete_len(window)]  # an unfinished last character is classed separately
        text = body.decode("utf-8", errors="replace")
        spans = self.pre_tokenize(text) if text else []
        if len(y) > 96 and len(spans) > 1:
            spans = spans[1:]  # the first chunk of a cut window may be cut itself
        keep = spans[-3:] if spans else []
        start_char = keep[0][0] if keep else len(text)
        tail_bytes = text[start_char:].encode("utf-8") + window[len(body):]
        last = text[keep[-1][0]:].encode("utf-8") + window[len(body):] if keep else window[len(body):]
        return _cap_runs(_classes(tail_bytes), digits_mod3_at_end=True), last, tail_bytes

    @staticmethod
    def _complete_len(data: bytes) -> int:
        owed = utf8_shape(data)[2]
        if not owed:
            return len(data)
        i = len(data) - 1
        while i > 0 and 0x80 <= data[i] <= 0xBF:
            i -= 1
        return i

    @functools.cached_property
    def alt_probes(self) -> list[tuple[str, str]]:
        """(text, class string) of the continuations that reveal alternative cuts: ALT_PROBES, and per class a
        character that a detached space does not merge with (its own token, pairwise canonical after ' '), so that
        the cut ' ' + ' ' + that character shows up even where ' x', ' 0' and ' !' are merges."""
        out = [(p, p) for p in ALT_PROBES]
        tables = self.tables
        space = tables.by_bytes.get(b" ")
        if space is None or not self.reach[space]:
            return out
        after = self._pair_mask(space)
        found: dict[str, str] = {}
        for t in tables.order:
            if not (after[t] and self.reach[t]):
                continue
            try:
                c = tables.token_bytes[t].decode("utf-8")
            except UnicodeDecodeError:
                continue
            k = _char_class(c) if len(c) == 1 else ""
            if k in ("x", "0", "!") and k not in found and self.encode_bytes is not None \
                    and self.encode_bytes(b" " + tables.token_bytes[t]) == [space, int(t)]:
                found[k] = c
        return out + [(" " + c, " " + k) for k, c in sorted(found.items())] + [(c, k) for k, c in sorted(found.items())]

    def _own_cuts(self, T, y, window, tail: str) -> list[frozenset]:
        """Pre-token ends inside the tail that T was cut with: y's own at the end of the text when T = enc(y), else
        those of y + a probe that T is the canonical prefix of (an alternative state)."""
        n = len(tail)
        at_end = frozenset(e for _, e in self.pre_tokenize(tail)[:-1]) if tail else frozenset()
        if self.encode_bytes is None:
            return [at_end]
        win, k = self._window_tokens(T, y, window)
        want = list(T[k:])
        if self.encode_bytes(win) == want:
            return [at_end]
        tb = self.tables.token_bytes
        cuts = []
        for p, cls in self.alt_probes:
            enc = self.encode_bytes(win + p.encode())
            if enc is None or list(enc[: len(want)]) != want or sum(len(tb[t]) for t in want) != len(win):
                continue
            cut = frozenset(e for _, e in self.pre_tokenize(tail + cls) if e < n)
            if cut not in cuts:
                cuts.append(cut)
        return cuts or [at_end]

    def _outcomes(self, tail: str, own: frozenset) -> np.ndarray:
        """out[probe, sig]: where the pre-tokenizer puts t's boundaries after the tail when LOOKAHEAD[probe] follows
        t (SPLIT/JOIN/BAD/RECHUNK/RECHECK, +8 when t's pre-token goes on into the probe)."""
        key = (tail, own)
        hit = self._bound_cache.get(key)
        if hit is not None:
            return hit
        n = len(tail)
        out = np.full((len(LOOKAHEAD), len(self.sig_strings)), BAD, np.int8)
        for i, s in enumerate(self.sig_strings):
            if not s:
                continue
            inner = s.startswith("\x00")
            if inner:
                s = s[1:]
                if not s:
                    out[0, i] = JOIN
                    continue
            m = n + len(s)
            for j, probe in enumerate(LOOKAHEAD):
                if j and s[-1] not in _SPACES:
                    break  # only whitespace is cut differently by what follows it
                ends = [e for _, e in self.pre_tokenize(tail + s + probe)[:-1]]
                before = {e for e in ends if e < n}
                if any(n < e < m for e in ends) or (inner and n in ends):
                    res = BAD
                elif before != own:
                    res = RECHUNK if (n in ends and not inner and not j) else RECHECK
                elif n in ends or n == 0:
                    res = SPLIT
                else:
                    res = JOIN
                out[j, i] = res + (8 if j and m not in ends and res != BAD else 0)
        self._bound_cache[key] = out
        return out

    def _window_tokens(self, T, y, window):
        tb = self.tables.token_bytes
        k, n = len(T), 0
        while k > 0 and n < len(window):
            k -= 1
            n += len(tb[T[k]])
        return (window, k) if n == len(window) else (y, 0)

    def _recheck(self, T, y, window, ids, probe: bytes = b"") -> np.ndarray:
        """The re-encode check itself for the given candidate tokens, on the last pre-tokens of the text only (with
        a probe after t: T + [t] must start the encoding)."""
        window, k = self._window_tokens(T, y, window)
        tb = self.tables.token_bytes
        want = list(T[k:])
        ok = np.zeros(len(ids), bool)
        for i, t in enumerate(ids):
            enc = self.encode_bytes(window + tb[t] + probe)
            ok[i] = enc is not None and (list(enc) == want + [int(t)] if not probe else
                                         list(enc[: len(want) + 1]) == want + [int(t)])
        return ok

    def _feasible(self, T, y, window, ids) -> np.ndarray:
        """Drop signature groups whose joined last pre-token would start inside one of T's tokens (T cannot survive);
        one representative per group locates that start with the real pre-tokenizer."""
        window, k = self._window_tokens(T, y, window)
        tb = self.tables.token_bytes
        bounds = {0}
        n = 0
        for t in T[k:]:
            n += len(tb[t])
            bounds.add(n)
        keep = []
        sig = np.zeros(self.tables.V, np.int64)
        sig[self.var_tok[::-1]] = self.var_sig[::-1]  # a token's first variant stands for it
        for g in np.unique(sig[ids]):
            members = ids[sig[ids] == g]
            try:
                text = (window + tb[members[0]]).decode("utf-8")
            except UnicodeDecodeError:
                keep.append(members)
                continue
            spans = self.pre_tokenize(text)
            start = len(text[: spans[-1][0]].encode("utf-8")) if spans else 0
            if start in bounds:
                keep.append(members)
        return np.concatenate(keep) if keep else np.empty(0, np.int64)

    def _rechunk_ok(self, T: tuple[int, ...], y: bytes, window: bytes, g: int) -> bool:
        """When t starts a new pre-token but T's last pre-tokens are cut anew, T survives iff re-encoding gives it
        back; one representative token of the signature class decides for the class (the rest of t is one pre-token)."""
        reps = self.var_tok[(self.var_sig == g) & self.var_split_ok]
        if not reps.size or self.encode_bytes is None:
            return False
        return bool(self._recheck(T, y, window, [int(reps[0])])[0])

    def mask(self, T: tuple[int, ...], y: bytes) -> np.ndarray:
        tables = self.tables
        utf8 = tables.utf8_ok[pending_continuations(y)]
        if not T:
            return utf8 & self.split_ok
        tail, last, window = self._tail(y)
        win, k = self._window_tokens(T, y, window)
        key = (T[min(k, len(T) - 1):], win, tail, pending_continuations(y))  # always keeps T's last token
        hit = self._mask_cache.get(key)
        if hit is not None:
            self._mask_cache.move_to_end(key)
            return hit
        out = self._mask(T, y, utf8, tail, last, window)
        self._mask_cache[key] = out
        if len(self._mask_cache) > 256:
            self._mask_cache.popitem(last=False)
        return out

    def _mask(self, T, y, utf8, tail, last, window) -> np.ndarray:
        tables = self.tables
        pair = self.pair_mask(T[-1])
        if self.pre_tokenize is None:
            joined, other = pair.copy(), np.zeros(tables.V, bool)
        else:
            joined, other = np.zeros(tables.V, bool), np.zeros(tables.V, bool)
            for own in self._own_cuts(T, y, window, tail):
                j, o = self._cut_mask(T, y, utf8, tail, window, own, pair)
                joined |= j
                other |= o
        if self.ignore_merges and last:
            # a whole pre-token found in the vocabulary is emitted as that one token
            for w in tables.with_prefix(last):
                rest = tables.token_bytes[w][len(last):]
                t = tables.by_bytes.get(rest)
                if t is not None:
                    joined[t] = False
        valid = joined | other
        valid |= self.fallback  # a character missing from the vocabulary is spelt in byte pieces (per-byte check)
        valid &= utf8
        return valid

    def _cut_mask(self, T, y, utf8, tail, window, own, pair) -> tuple[np.ndarray, np.ndarray]:
        """Tokens valid after T when T's last pre-tokens are cut at ``own``, whichever lookahead probe follows t:
        (joined to T's last pre-token by the pair check, starting a pre-token or re-encoded)."""
        V = self.tables.V
        per = self._outcomes(tail, own)
        joined, other = np.zeros(V, bool), np.zeros(V, bool)
        tok = self.var_tok
        for j in range(len(LOOKAHEAD)):
            row = per[j]
            if j == 0:
                rechunk = np.nonzero(row == RECHUNK)[0]
                if rechunk.size:
                    row = row.copy()
                    row[rechunk] = [SPLIT if self._rechunk_ok(T, y, window, g) else BAD for g in rechunk]
            oc = row[self.var_sig]
            goes_on = oc >= 8
            oc = oc & 7
            ok_join = (oc == JOIN) & pair[tok] & self.var_right
            ok_split = (oc == SPLIT) & self.var_split_ok
            if j:
                right = ~goes_on | self._right_ok(j)[tok]
                ok_join &= right
                ok_split &= right
            joined[tok[ok_join]] = True
            other[tok[ok_split]] = True
            redo = np.unique(tok[oc == RECHECK])
            redo = redo[utf8[redo] & ~(joined[redo] | other[redo])]
            if redo.size and self.encode_bytes is not None:
                if not getattr(self.pre_tokenize, "approximate", False):
                    redo = self._feasible(T, y, window, redo)
                if redo.size:
                    probe = LOOKAHEAD[j].encode()
                    other[redo[self._recheck(T, y, window, redo, probe)]] = True  # exact, whatever the reason
        return joined, other


def _hf_parts(tokenizer):
    """(pre_tokenize(text) -> spans or None, ignore_merges, merges or None) from the tokenizer's Hugging Face object.

    Class strings use plain spaces; a Metaspace-style normaliser (" " -> "▁") is applied first, length-preserving.
    """
    hf = tokenizer.hf() if hasattr(tokenizer, "hf") else None
    if hf is None:
        return None, False, None
    import json

    spec = json.loads(hf.to_str())
    model = spec.get("model", {})
    merges = None
    if str(model.get("type", "")).upper() == "BPE" and model.get("merges"):
        vocab = model["vocab"]
        merges = []
        for m in model["merges"]:
            a, b = m.split(" ", 1) if isinstance(m, str) else m
            if a in vocab and b in vocab and a + b in vocab:
                merges.append((vocab[a], vocab[b], vocab[a + b]))
    metaspace = "\u2581" in json.dumps(spec.get("normalizer") or {}, ensure_ascii=False)
    pre = hf.pre_tokenizer
    if type(tokenizer).__name__ == "SentencePieceTokenizer":
        # sentencepiece splits pieces before "▁" (the converted pre-tokenizer splits before every one); a run of
        # spaces keeps all but its last, which starts the next word
        import regex

        pat = regex.compile(r" ?[^ ]+| +(?= [^ ])| +")

        def sp_pre_tokenize(text: str):
            return [m.span() for m in pat.finditer(text)]

        sp_pre_tokenize.approximate = True  # sentencepiece also splits at script changes: re-encode, never prune

        return sp_pre_tokenize, bool(model.get("ignore_merges")), merges
    if pre is None:
        return None, bool(model.get("ignore_merges")), merges

    def pre_tokenize(text: str):
        if metaspace:
            text = text.replace(" ", "\u2581")
        return [span for _, span in pre.pre_tokenize_str(text)]

    return pre_tokenize, bool(model.get("ignore_merges")), merges


def make_validity(tokenizer, tables: VocabTables, encode_bytes, kind: str = "auto"):
    """The fast BPE mask when the tokenizer's merges are known (its own or its Hugging Face form's), else the
    re-encode check."""
    merges = tokenizer.bpe_merges() if kind != "reencode" and hasattr(tokenizer, "bpe_merges") else None
    pre_tokenize, ignore, hf_merges = _hf_parts(tokenizer) if kind != "reencode" else (None, False, None)
    merges = merges or hf_merges
    if kind == "reencode" or not merges:
        if kind == "bpe":
            from tokbench.errors import UsageError

            raise UsageError(f"byteprob: tokenizer {getattr(tokenizer, 'name', '?')} has no BPE merges")
        return ReencodeValidity(encode_bytes, tables)
    tb = tables.token_bytes
    if getattr(tokenizer, "byte_level", False):
        byte_id = [tables.by_bytes.get(bytes([v]), -1) for v in range(256)]
        units = [[byte_id[v] for v in b] for b in tb]
    else:
        units = []
        for b in tb:
            try:
                units.append([tables.by_bytes.get(c.encode("utf-8"), -1) for c in b.decode("utf-8")])
            except UnicodeDecodeError:
                units.append([-1])
    fallback = None
    if getattr(tokenizer, "byte_fallback", False) or type(tokenizer).__name__ == "SentencePieceTokenizer":
        import re

        pat = re.compile(r"<0x[0-9A-Fa-f]{2}>$")
        fallback = np.array([bool(pat.match(tokenizer.id_to_token(t) or "")) and len(tb[t]) == 1
                             for t in range(tables.V)])
    return BPEValidity(tables, merges, units, pre_tokenize, ignore, encode_bytes, fallback)
