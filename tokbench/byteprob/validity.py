"""Canonical-validity masks: which tokens t may follow a committed canonical sequence T.

The truth is the re-encode check ``encode(bytes(T) + bytes(t)) == T + [t]`` (:class:`ReencodeValidity`); for BPE
tokenizers :class:`BPEValidity` gets the same answer fast from

* pairwise canonicality inside one pre-token (merge trees of the two tokens; ``kernels.pair_valid_mask``),
* where the pre-tokenizer puts the boundary between T's last pre-token and t, evaluated once per *class signature*
  (characters replaced by representatives of the classes the pre-tokenizer regexes can tell apart) and cached,
* UTF-8 consistency (a token may only continue a character the text has started), special tokens excluded.
"""

from __future__ import annotations

import unicodedata
from collections import OrderedDict
from functools import lru_cache

import numpy as np

from tokbench.byteprob.tables import VocabTables, pending_continuations, utf8_shape
from tokbench.kernels import byteprob as K

SPLIT, JOIN, BAD, RECHUNK, RECHECK = 0, 1, 2, 3, 4  # RECHUNK: split, but T's last pre-tokens are cut anew;
# RECHECK: joined and cut anew (rare: after whitespace runs): each such token is re-encoded
_CONTRACTION = set("strevmldSTREVMLD")


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


def _classes(data: bytes, keep_head: int = 0) -> str:
    """Class string of a byte fragment: leading continuation bytes dropped, an unfinished last char guessed."""
    lead, ok, owed = utf8_shape(data)
    body = data[lead:]
    tail = b""
    if owed:
        # split off the unfinished last character
        i = len(body) - 1
        while i > 0 and 0x80 <= body[i] <= 0xBF:
            i -= 1
        body, tail = body[:i], body[i:]
    text = body.decode("utf-8", errors="replace")
    out = []
    since_quote = 99
    for i, c in enumerate(text):
        if c in _CONTRACTION and (i < keep_head or since_quote <= 2):
            out.append(c)
        else:
            out.append(_char_class(c))
        since_quote = 0 if c == "'" else since_quote + 1
    if tail:
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
        # tokens that start inside a character (continuation bytes) are marked: they can only join the last pre-token
        sigs = [("\x00" if 0x80 <= tb[t][0] <= 0xBF else "") + _cap_runs(_classes(tb[t], keep_head=2))
                if tables.usable[t] else "" for t in range(V)]
        uniq, inv = np.unique(np.array(sigs, dtype=object), return_inverse=True)
        self.sig_strings = list(uniq)
        self.sig_of = inv.astype(np.int64)
        # a token can only come out of the tokenizer if its bytes form one pre-token on their own
        if pre_tokenize is None:
            pure = np.ones(V, bool)
        else:
            pure = np.array([self._one_chunk(s) for s in self.sig_strings])[self.sig_of]
        self.split_ok = tables.usable & pure & (self.reach | ignore_merges)
        self.fallback = np.zeros(V, bool) if fallback is None else fallback & tables.usable
        for t in np.nonzero(self.fallback)[0]:  # an ASCII character the vocabulary has is never spelt in bytes
            if tb[t][0] < 0x80 and self.reach[tables.by_bytes.get(tb[t], t)] and tables.by_bytes.get(tb[t], t) != t:
                self.fallback[t] = False
        self.ws_end = np.array([t for t in range(V) if tables.usable[t] and tb[t][-1:] in (b" ", b"\t", b"\n", b"\r")],
                               np.int64)

    def _one_chunk(self, s: str) -> bool:
        return len(self.pre_tokenize(s.lstrip("\x00"))) <= 1

    def pair_mask(self, a: int) -> np.ndarray:
        hit = self._pair_cache.get(a)
        if hit is not None:
            self._pair_cache.move_to_end(a)
            return hit
        if self.fallback[a]:  # byte-fallback pieces take part in no merge
            mask = self.reach | self.fallback
        elif not self.reach[a]:
            mask = np.zeros(self.tables.V, bool)
        else:
            mask = K.pair_valid_mask(a, self.left, self.right, self.rank, self.eff, self.reach,
                                     self.bl_start, self.bl_right, self.bl_rank)
        self._pair_cache[a] = mask
        if len(self._pair_cache) > 512:
            self._pair_cache.popitem(last=False)
        return mask

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

    def _outcomes(self, tail: str) -> np.ndarray:
        hit = self._bound_cache.get(tail)
        if hit is not None:
            return hit
        n = len(tail)
        own = {e for _, e in self.pre_tokenize(tail)[:-1]} if tail else set()
        out = np.empty(len(self.sig_strings), np.int8)
        for i, s in enumerate(self.sig_strings):
            if not s:
                out[i] = BAD
                continue
            inner = s.startswith("\x00")
            if inner:
                s = s[1:]
                if not s:
                    out[i] = JOIN
                    continue
            ends = [e for _, e in self.pre_tokenize(tail + s)[:-1]]
            before = {e for e in ends if e < n}
            inside = any(n < e for e in ends)
            if inside or (inner and n in ends):
                out[i] = BAD
            elif before != own:
                out[i] = RECHUNK if (n in ends and not inner) else RECHECK
            elif n in ends or n == 0:
                out[i] = SPLIT
            else:
                out[i] = JOIN
        self._bound_cache[tail] = out
        return out

    def _window_tokens(self, T, y, window):
        tb = self.tables.token_bytes
        k, n = len(T), 0
        while k > 0 and n < len(window):
            k -= 1
            n += len(tb[T[k]])
        return (window, k) if n == len(window) else (y, 0)

    def _recheck(self, T, y, window, ids) -> np.ndarray:
        """The re-encode check itself for the given candidate tokens, on the last pre-tokens of the text only."""
        window, k = self._window_tokens(T, y, window)
        tb = self.tables.token_bytes
        want = list(T[k:])
        ok = np.zeros(len(ids), bool)
        for i, t in enumerate(ids):
            enc = self.encode_bytes(window + tb[t])
            ok[i] = enc is not None and list(enc) == want + [int(t)]
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
        for g in np.unique(self.sig_of[ids]):
            members = ids[self.sig_of[ids] == g]
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
        reps = np.nonzero((self.sig_of == g) & self.split_ok)[0]
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
        if self.pre_tokenize is None:
            join = np.ones(tables.V, bool)
            split = np.zeros(tables.V, bool)
        else:
            per_sig = self._outcomes(tail)
            rechunk = np.nonzero(per_sig == RECHUNK)[0]
            if rechunk.size:
                per_sig = per_sig.copy()
                per_sig[rechunk] = [SPLIT if self._rechunk_ok(T, y, window, g) else BAD for g in rechunk]
            outc = per_sig[self.sig_of]
            join = outc == JOIN
            split = outc == SPLIT
            redo = np.nonzero((outc == RECHECK) & utf8)[0]
            if redo.size and self.encode_bytes is not None:
                if not getattr(self.pre_tokenize, "approximate", False):
                    redo = self._feasible(T, y, window, redo)
                if redo.size:
                    split[redo[self._recheck(T, y, window, redo)]] = True  # exact answer, whatever the reason
        valid = join & self.pair_mask(T[-1])
        if self.ignore_merges and last:
            # a whole pre-token found in the vocabulary is emitted as that one token
            for w in tables.with_prefix(last):
                rest = tables.token_bytes[w][len(last):]
                t = tables.by_bytes.get(rest)
                if t is not None:
                    valid[t] = False
        valid |= split & (self.split_ok | (outc == RECHECK) if self.pre_tokenize is not None else False)
        valid |= self.fallback  # a character missing from the vocabulary is spelt in byte pieces (per-byte check)
        valid &= utf8
        if self.pre_tokenize is not None and self.encode_bytes is not None:
            # a token ending in whitespace may be cut differently at the end of the text than before a non-space
            # (`\s+(?!\S)`): T + [t] is a canonical prefix if it survives re-encoding with a non-space after it
            ws = self.ws_end[~valid[self.ws_end] & utf8[self.ws_end]]
            if ws.size:
                win, k = self._window_tokens(T, y, window)
                want = list(T[k:])
                tb = tables.token_bytes
                for t in ws:
                    for probe in (b"x",):
                        enc = self.encode_bytes(win + tb[t] + probe)
                        if enc is not None and list(enc[: len(want) + 1]) == want + [int(t)]:
                            valid[t] = True
                            break
        return valid


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
