"""ByteLM: the exact next-byte distribution a token LM induces (Byte-Token Representation Lemma).

State for a byte prefix x: the committed canonical encoding T = enc(x) with lpT = log P(T as a token prefix), the
LM's next-token log-probabilities q at T with the canonical-validity mask, and the covers: canonical sequences
T_k + [t] (T_k = enc(x[:k]) for an earlier k) whose last token t crosses the end of x, each with its log-probability.
Advancing by one byte filters the covers, opens new ones from T, and commits the one cover whose residual becomes
empty; one LM call then gives q at the new T.

Special tokens (`allowed_special`). By default special tokens are no part of the walk: the text is plain bytes and the
distribution is over the 256 bytes and the end of text. With allowed special tokens the text is read as the tokenizer
reads it with them allowed: split at their occurrences (tiktoken's reading), each part walked byte by byte as above,
each special token one event. The alphabet is then bytes, the end of text and the allowed specials (index 257 + k;
the eos token's own text is the end-of-text event, index 256, since it is the same token): a special token can only
follow the committed canonical T at a character boundary (the tokens before it spell the part before it exactly), so
its mass is lpT + q[special], exactly as the end of text is, and every next-symbol distribution is normalised over all
of them. This is the exact chain rule of that process: log P(special | byte prefix) = lpT + q[special] - log Z, not the
token-level q[special] alone (which would leave out the covers crossing the end of the prefix that Z counts, and so
not sum to one). Likewise a plain-token continuation whose bytes would complete an allowed special's text has
probability 0 (the tokenizer never spells that text in plain tokens). After a special the walk restarts from the
context enc(before) + [special], the covers from before it dropped (no token crosses a special). A tokenizer with a
dummy prefix (SentencePiece's ▁) is refused: it starts each part after a special with the dummy, whose own mass the
walk leaves out of the plain text's probability, so the parts would be normalised differently.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from tokbench.byteprob.tables import VocabTables, utf8_shape
from tokbench.byteprob.validity import ALT_PROBES
from tokbench.kernels import byteprob as K

EOT = 256


@runtime_checkable
class TokenLM(Protocol):
    """Anything that gives next-token log-probabilities (natural log, normalised over the vocabulary)."""

    eos_id: int | None

    def next_logprobs(self, ids: Sequence[int]) -> np.ndarray: ...


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _logsumexp(a: np.ndarray) -> float:
    m = float(np.max(a)) if a.size else -np.inf
    if m == -np.inf:
        return -np.inf
    return m + float(np.log(np.sum(np.exp(a - m))))


@dataclass
class ByteLMStats:
    lm_calls: int = 0  # next_logprobs calls made for committed states
    resyncs: int = 0  # committed state taken from the tokenizer because the covers disagreed with it
    dropped: int = 0  # extra empty-residual covers (ambiguous inside an unfinished character)
    bytes: int = 0  # bytes advanced
    alt_states: int = 0  # extra committed states (LM calls) for whitespace runs cut differently before a non-space
    warm_resyncs: int = 0  # expected resyncs while walking from a warm start (covers from before it are not kept)


class ByteState:
    """Distribution over the next byte after a prefix; immutable, ``advance`` returns a new state."""

    __slots__ = ("blm", "y", "T", "t_id", "lpT", "q", "valid", "tok", "off", "lp", "base", "alts", "_dist")

    def __init__(self, blm, y, T, t_id, lpT, q, valid, tok, off, lp, base, alts=()):
        self.blm, self.y, self.T, self.t_id, self.lpT = blm, y, T, t_id, lpT
        self.q, self.valid = q, valid
        self.tok, self.off, self.lp, self.base = tok, off, lp, base
        # other canonical prefixes with exactly these bytes that are not enc(prefix) itself: a pre-tokenizer with
        # lookahead (`\s+(?!\S)`) cuts a whitespace run differently once a non-space follows. (T, id, lp, q, valid)
        self.alts = list(alts)
        self._dist = None

    @property
    def prefix(self) -> bytes:
        """The user's bytes so far (without a tokenizer's dummy prefix)."""
        return self.y[len(self.blm.dummy):]

    @property
    def has_t(self) -> bool:
        return self.T is not None

    def covers(self) -> list[tuple[tuple[int, ...], float]]:
        """All cover encodings of the prefix with their log-probabilities (T itself first when it exists)."""
        out = []
        if self.T is not None:
            out.append((self.T, self.lpT))
        out.extend((a[0], a[2]) for a in self.alts)
        hist = self.blm._history
        for t, b, lp in zip(self.tok, self.base, self.lp):
            out.append((hist[b] + (int(t),), float(lp)))
        return out

    def log_mass(self) -> float:
        """log P(prefix) as logsumexp over covers (the lemma), up to the dummy prefix's own mass."""
        parts = ([self.lpT] if self.T is not None else []) + [a[2] for a in self.alts]
        return _logsumexp(np.concatenate([np.array(parts, float), self.lp]))

    def unnormalized(self) -> np.ndarray:
        """acc[b] (and acc[256] = end of text) before normalising: covers by next residual byte plus T's valid tokens."""
        blm = self.blm
        tb = blm.tables
        nb = K.cover_next_bytes(self.tok, self.off, tb.tb_flat, tb.tb_start)
        acc = np.full(257 + len(blm.symbols), -np.inf)
        lp, cut = self.lp, None
        if blm.symbols or blm.eos_allowed:  # plain continuations that would spell an allowed special: excluded
            bad_cover, cut = blm._completing(self)
            lp = np.where(bad_cover, -np.inf, lp)
        acc[:256] = K.scatter_logsumexp(lp, nb, 256)
        if self.T is not None:
            valid = self.valid if cut is None else self.valid & ~cut
            fb = K.first_byte_mass(self.q, valid, tb.fb_start, tb.order) + self.lpT
            acc[:256] = np.logaddexp(acc[:256], fb)
            if blm.at_char_boundary(self.y):
                if blm.eos_id is not None:
                    acc[EOT] = self.lpT + self.q[blm.eos_id]
                for k, (_, t) in enumerate(blm.symbols):
                    acc[257 + k] = self.lpT + self.q[t]
        for _, _, lpa, qa, va in self.alts:
            va = va if cut is None else va & ~cut
            acc[:256] = np.logaddexp(acc[:256], K.first_byte_mass(qa, va, tb.fb_start, tb.order) + lpa)
        return acc

    def next_byte_logprobs(self) -> np.ndarray:
        """Shape (257,): log P(next byte = b | prefix), index 256 = end of text; logsumexp == 0. With allowed special
        tokens, shape (257 + k,): index 257 + k is the special `blm.symbols[k]` (see the module docstring)."""
        if self._dist is None:
            acc = self.unnormalized()
            z = _logsumexp(acc)
            if z == -np.inf:
                from tokbench.errors import WorkError

                raise WorkError(f"byteprob: no token sequence covers the prefix {self.prefix[-32:]!r}")
            self._dist = acc - z
        return self._dist

    def advance(self, b: int) -> "ByteState":
        return self.blm._advance(self, int(b))

    def after_special(self, index: int) -> "ByteState":
        """The state after the special token of distribution index `index` (EOT for the eos token's own text): the
        walk restarts from the context enc(prefix) + [special]."""
        blm = self.blm
        if index == EOT and blm.eos_allowed:
            tid = blm.eos_id
        elif 257 <= index < 257 + len(blm.symbols):
            tid = blm.symbols[index - 257][1]
        else:
            raise ValueError(f"byteprob: {index} is not an allowed special token's index")
        if self.T is None or not blm.at_char_boundary(self.y):
            from tokbench.errors import WorkError

            raise WorkError(f"byteprob: no special token can follow {self.prefix[-32:]!r} (inside a character)")
        return blm._child(blm.context + self.T + (int(tid),)).root()


class ByteLM:
    """Exact byte-level LM on top of a token LM and its tokenizer (one LM call per byte after the prefix)."""

    def __init__(self, tokenizer, lm: TokenLM, validity: str = "auto", check: bool = True, allowed_special=None):
        if isinstance(tokenizer, str):
            from tokbench.tokenizer import load_tokenizer

            tokenizer = load_tokenizer(tokenizer)
        allowed = frozenset() if allowed_special is None else tokenizer._allowed(allowed_special)
        if getattr(tokenizer, "allowed_special", None):  # the parts between specials are plain text
            tokenizer = tokenizer.allowing_special(frozenset())
        self.tok = tokenizer
        self.lm = lm
        self.eos_id = getattr(lm, "eos_id", None)
        self.check = check
        tb = list(tokenizer.all_token_bytes())
        excluded = set(getattr(tokenizer, "special_ids", ()) or ())
        if self.eos_id is not None:
            excluded.add(self.eos_id)
        self.tables = VocabTables(tb, excluded)
        self.dummy = self._dummy_prefix()
        from tokbench.byteprob.validity import make_validity

        self.validity = make_validity(tokenizer, self.tables, self.encode_bytes, validity)
        self.stats = ByteLMStats()
        self._history: list[tuple[int, ...]] = []
        self._hist_index: dict[tuple[int, ...], int] = {}
        self._lp_of: dict[tuple[int, ...], float] = {}
        self._root = None
        self._warming = False
        self.context: tuple[int, ...] = ()  # token ids before the part walked (after a special token)
        self._set_specials(allowed)

    # ----- special tokens -----
    def _set_specials(self, allowed: frozenset[str]) -> None:
        self.allowed = allowed
        ids = {t: int(self.tok.special_tokens[t]) for t in allowed}
        self.eos_allowed = self.eos_id is not None and self.eos_id in ids.values()
        self.symbols: list[tuple[str, int]] = sorted(((t, i) for t, i in ids.items() if i != self.eos_id),
                                                     key=lambda ti: (ti[1], ti[0]))
        self.symbol_of = {t: (EOT if i == self.eos_id else 257 + self.symbols.index((t, i))) for t, i in ids.items()}
        if not allowed:
            return
        why = self.special_refusal()
        if why:
            from tokbench.errors import UsageError

            raise UsageError(why)
        from tokbench.tokenizer.base import special_pattern

        texts = [t.encode("utf-8") for t in allowed]
        found = special_pattern(allowed, raw=True).search
        usable = self.tables.usable
        self._contains = np.array([bool(usable[t]) and found(b) is not None
                                   for t, b in enumerate(self.tables.token_bytes)], dtype=bool)
        self._partials = [(s[:j], s[j:]) for s in texts for j in range(1, len(s))]

    def special_refusal(self) -> str | None:
        """Why this tokenizer's special tokens cannot be walked as events (one line), or None where they can: a dummy
        prefix (SentencePiece's ▁, written as it writes it), which starts every part after a special token and whose
        own mass the walk leaves out (the module docstring)."""
        if not self.dummy:
            return None
        from tokbench.errors import param

        shown = self.dummy.decode("utf-8", "replace").replace(" ", "▁")
        return (f"{self.tok.name}: {param('allow_special')} needs a tokenizer without a dummy prefix ({shown}): it "
                "starts every part after a special token with it, and the byte walk leaves the dummy's own probability "
                "out")

    def _completing(self, state: "ByteState") -> tuple[np.ndarray, np.ndarray]:
        """(per cover, per next token of T): plain tokens whose bytes would complete an allowed special's text after
        the prefix (none is inside the prefix: the walk splits the text at them)."""
        y = state.y
        rests = [rest for head, rest in self._partials if y.endswith(head)]
        bad_cover = self._contains[state.tok] if len(state.tok) else np.zeros(0, bool)
        if not rests:
            return bad_cover, self._contains
        cut = self._contains.copy()
        for rest in rests:
            cut[self.tables.with_prefix(rest)] = True
        tb = self.tables.token_bytes
        bad_cover = bad_cover | np.array([any(tb[t][o:].startswith(r) for r in rests)
                                          for t, o in zip(state.tok, state.off)], dtype=bool)
        return bad_cover, cut

    def _child(self, context: tuple[int, ...]) -> "ByteLM":
        """This ByteLM walking a part after `context` (token ids): the same tables and validity, the LM conditioned
        on the context, its own committed states."""
        import copy

        child = copy.copy(self)
        child.lm = _ContextLM(self._base_lm, context)
        child.context = tuple(context)
        child._history, child._hist_index, child._lp_of = [], {}, {}
        child._root, child._warming = None, False
        return child

    @property
    def _base_lm(self):
        return self.lm.lm if isinstance(self.lm, _ContextLM) else self.lm

    def split(self, text: str) -> list[tuple[str, bool]]:
        """The text as (part, is an allowed special token) pieces, tiktoken's reading (leftmost, longest first)."""
        if not self.allowed:
            return [(text, False)] if text else []
        from tokbench.tokenizer.base import special_pattern

        out, pos = [], 0
        for m in special_pattern(self.allowed).finditer(text):
            if m.start() > pos:
                out.append((text[pos:m.start()], False))
            out.append((m.group(), True))
            pos = m.end()
        if pos < len(text):
            out.append((text[pos:], False))
        return out

    def encode_text(self, text: str) -> list[int]:
        """The token ids the model sees for `text`: the allowed specials read as their ids."""
        return list(self.tok.encode(text, allowed_special=self.allowed))

    def text_state(self, text: str, warm: bool = True) -> "ByteState":
        """The state after `text` read with the allowed specials: the walk over its last part, after the canonical
        ids of everything up to (and with) the last special token."""
        pieces = self.split(text)
        last = max((i for i, (_, sp) in enumerate(pieces) if sp), default=-1)
        if last < 0:
            return self.state(self.view(text), warm=warm)
        head = "".join(p for p, _ in pieces[: last + 1])
        rest = "".join(p for p, _ in pieces[last + 1:])
        return self._child(tuple(self.encode_text(head))).state(self.view(rest), warm=warm)

    def text_logprob(self, text: str, eos: bool = False) -> float:
        """log P(text) with the allowed specials each one event (module docstring); equals logprob(view(text)) when
        none is allowed or the text holds none."""
        s = self.root()
        total = 0.0
        for part, special in self.split(text):
            if special:
                i = self.symbol_of[part]
                total += float(s.next_byte_logprobs()[i])
                s = s.after_special(i)
                continue
            for b in self.view(part):
                total += float(s.next_byte_logprobs()[b])
                s = s.advance(b)
        if eos:
            total += float(s.next_byte_logprobs()[EOT])
        return total

    def symbol_label(self, index: int) -> str | None:
        """The special token's text for a distribution index past the bytes (None for a byte or the end)."""
        return self.symbols[index - 257][0] if index >= 257 else None

    # ----- tokenizer glue -----
    def _dummy_prefix(self) -> bytes:
        prep = getattr(self.tok, "prepare", None)
        if prep is None:
            return b""
        try:
            p = prep("x")
        except Exception:
            return b""
        p = p if isinstance(p, bytes) else p.encode("utf-8")
        return p[:-1] if p.endswith(b"x") else b""

    def view(self, text: str) -> bytes:
        """The bytes the walk goes over for `text`: the text as the tokenizer sees it (its `prepare`), less the dummy
        prefix the walk starts with. A SentencePiece tokenizer reads a literal ▁ as a space and a normaliser may change
        characters, so its tokens spell these bytes, not the text's UTF-8 (walking that would only resync). WordPiece
        runs its words together (another text), so there the text's own bytes are walked (probability 0 past a space)."""
        prep = getattr(self.tok, "prepare", None)
        if prep is None or getattr(self.tok, "model_type", "") == "wordpiece":
            return text.encode("utf-8")
        data = prep(text)
        return data[len(self.dummy):] if data.startswith(self.dummy) else data

    def encode_bytes(self, data: bytes) -> list[int] | None:
        """The canonical encoding of prepared bytes (the adapter's `encode_bytes` of the bytes after the dummy
        prefix), or None where no text has exactly these bytes: data that does not start with the dummy prefix, or
        that is not UTF-8 (it ends inside a character). There the covers carry the state: tiktoken's encoding of an
        unfinished tail is one way to spell it, not the canonical prefix of every text that finishes the character."""
        body = data[len(self.dummy):]
        if not data.startswith(self.dummy) or not _is_utf8(body):
            return None
        return self.tok.encode_bytes(body)

    def prompt_ids(self, prefix: bytes) -> list[int]:
        """The token ids a token-level baseline (naive completion, token healing) conditions on for a prompt of raw
        bytes: the adapter's `encode_bytes` for a byte-level BPE (tiktoken's `_encode_bytes`, so a prompt cut inside a
        character keeps its tokens), else the canonical encoding (none when the prompt is not UTF-8)."""
        if getattr(self.tok, "byte_level", False) and not self.dummy:
            return self.tok.encode_bytes(prefix)
        return self.encode_bytes(self.dummy + prefix) or []

    def _char_in_vocab(self, y: bytes) -> bool:
        """Whether the character that ends y is a reachable vocabulary piece of its own."""
        i = len(y) - 1
        while i > 0 and 0x80 <= y[i] <= 0xBF:
            i -= 1
        t = self.tables.by_bytes.get(y[i:])
        reach = getattr(self.validity, "reach", None)
        return t is not None and (reach is None or bool(reach[t]))

    @staticmethod
    def at_char_boundary(y: bytes) -> bool:
        return utf8_shape(y[-4:])[2] == 0 if y else True

    # ----- committed states -----
    def _hid(self, T: tuple[int, ...]) -> int:
        h = self._hist_index.get(T)
        if h is None:
            h = len(self._history)
            self._history.append(T)
            self._hist_index[T] = h
        return h

    def _q(self, T: tuple[int, ...]) -> np.ndarray:
        self.stats.lm_calls += 1
        q = np.asarray(self.lm.next_logprobs(list(T)), dtype=np.float64)
        if q.shape != (self.tables.V,) and q.shape[0] >= self.tables.V:
            q = q[: self.tables.V]
        return q

    def _score(self, T: tuple[int, ...]) -> float:
        """log P(T as a token prefix), reusing known prefix scores (resyncs and warm starts)."""
        k = len(T)
        while k > 0 and T[:k] not in self._lp_of:
            k -= 1
        if len(T) - k > 2 and hasattr(self.lm, "score"):
            self.stats.lm_calls += 1
            lp = float(self.lm.score(list(T)))
            self._lp_of[T] = lp
            return lp
        lp = self._lp_of.get(T[:k], 0.0)
        for i in range(k, len(T)):
            q = self._q(T[:i])
            lp += float(q[T[i]])
            self._lp_of[T[: i + 1]] = lp
        return lp

    def _commit(self, y: bytes, T: tuple[int, ...], lpT: float, tok, off, lp, base, cands=None) -> ByteState:
        self._lp_of[T] = lpT
        q = self._q(T)
        valid = self.validity.mask(T, y)
        alts = []
        for A in self._alternatives(y, T):
            lpa = (cands or {}).get(A)
            lpa = self._score(A) if lpa is None else lpa
            self._lp_of[A] = lpa
            self.stats.alt_states += 1
            alts.append((A, self._hid(A), lpa, self._q(A), self.validity.mask(A, y)))
        return ByteState(self, y, T, self._hid(T), lpT, q, valid, tok, off, lp, base, alts)

    @functools.cached_property
    def _probes(self) -> list[bytes]:
        return [p.encode() for p, _ in getattr(self.validity, "alt_probes", [(p, p) for p in ALT_PROBES])]

    def _alternatives(self, y: bytes, T: tuple[int, ...]) -> list[tuple[int, ...]]:
        """Canonical prefixes other than T with exactly the bytes y: the encodings of y + probe cut at |y|."""
        if not getattr(self.validity, "pre_tokenize", None) or not y or y[-1:] not in (b" ", b"\t", b"\n", b"\r"):
            return []
        tb = self.tables.token_bytes
        out = []
        for p in self._probes:
            e = self.encode_bytes(y + p)
            if e is None:
                continue
            n, k = 0, 0
            while k < len(e) and n < len(y):
                n += len(tb[e[k]])
                k += 1
            A = tuple(e[:k])
            if n == len(y) and A != T and A not in out:
                out.append(A)
        return out

    def root(self) -> ByteState:
        """The state after the tokenizer's dummy prefix (if any)."""
        if self._root is None:
            e = np.empty(0, np.int64)
            s = self._commit(b"", (), 0.0, e, e, np.empty(0), e)
            for b in self.dummy:
                s = s.advance(b)
            self._root = s
        return self._root

    def _advance(self, s: ByteState, b: int) -> ByteState:
        tb = self.tables
        self.stats.bytes += 1
        has_t = s.T is not None
        q = s.q if has_t else np.empty(0)
        valid = s.valid if has_t else np.empty(0, bool)
        tok, off, lp, base, dtok, dlp, dbase = K.advance_covers(
            s.tok, s.off, s.lp, s.base, b, tb.tb_flat, tb.tb_start, tb.tb_len,
            has_t, s.lpT if has_t else 0.0, q, valid, tb.fb_start, tb.order, s.t_id if has_t else -1)
        for A, aid, lpa, qa, va in s.alts:
            e = np.empty(0, np.int64)
            t2, o2, l2, b2, dt2, dl2, db2 = K.advance_covers(
                e, e, np.empty(0), e, b, tb.tb_flat, tb.tb_start, tb.tb_len,
                True, lpa, qa, va, tb.fb_start, tb.order, aid)
            tok, off, lp, base = (np.concatenate([x, x2]) for x, x2 in ((tok, t2), (off, o2), (lp, l2), (base, b2)))
            dtok, dlp, dbase = (np.concatenate([x, x2]) for x, x2 in ((dtok, dt2), (dlp, dl2), (dbase, db2)))
        y = s.y + bytes([b])
        cands = [(self._history[int(h)] + (int(t),), float(v)) for t, h, v in zip(dtok, dbase, dlp)]
        fb = getattr(self.validity, "fallback", None)
        if fb is not None and len(cands) > 1 and fb.any():
            # a character the vocabulary has is never spelt in byte-fallback pieces
            cands = [c for c in cands if not fb[c[0][-1]] or not self._char_in_vocab(y)] or cands
        at_dummy = len(y) <= len(self.dummy)  # inside the dummy prefix no text has been encoded yet
        truth = self.encode_bytes(y) if (self.check or not cands) and not at_dummy else None
        if truth is not None:
            truth = tuple(truth)
            match = [c for c in cands if c[0] == truth]
            if not match:
                if self._warming:
                    self.stats.warm_resyncs += 1
                else:
                    self.stats.resyncs += 1
            if len(cands) > 1:  # candidates that are alternatives are kept by _commit; count the rest
                alts = set(self._alternatives(y, truth))
                self.stats.dropped += sum(1 for c in cands if c[0] != truth and c[0] not in alts)
            if match:
                T, lpT = match[0]
            else:
                T, lpT = truth, self._score(truth)
            return self._commit(y, T, lpT, tok, off, lp, base, dict(cands))
        if not cands:
            e = np.empty(0)
            return ByteState(self, y, None, -1, -np.inf, e, np.empty(0, bool), tok, off, lp, base)
        cands.sort(key=lambda c: -c[1])
        self.stats.dropped += len(cands) - 1
        return self._commit(y, cands[0][0], cands[0][1], tok, off, lp, base)

    # ----- public API -----
    def state(self, prefix: bytes, warm: bool = True) -> ByteState:
        """The state after prefix. With warm=True the walk starts from the canonical encoding of an early part of
        the prefix, far enough back that no token crossing the end of the prefix starts before it: the final state
        (its covers and their probabilities) is the same, at one LM call for the early part instead of one per byte."""
        s = self.root()
        y = self.dummy + prefix
        k0 = self._warm_start(y) if warm else len(self.dummy)
        if k0 > len(self.dummy):
            T = tuple(self.encode_bytes(y[:k0]))
            e = np.empty(0, np.int64)
            s = self._commit(y[:k0], T, self._score(T), e, e, np.empty(0), e)
        self._warming = k0 > len(self.dummy)
        try:
            for b in y[max(k0, len(self.dummy)):]:
                s = s.advance(b)
        finally:
            self._warming = False
        return s

    def _warm_start(self, y: bytes) -> int:
        """Earliest start k of a token that could cross the end of y (bytes y[k:] are a prefix of some token),
        moved back to a character boundary; 0 when the walk must start at the beginning."""
        import bisect

        sb = self.tables.sorted_bytes
        n = len(y)
        first = n
        for m in range(1, min(n, self.tables.max_len) + 1):
            piece = y[n - m:]
            i = bisect.bisect_left(sb, piece)
            if i < len(sb) and sb[i].startswith(piece):
                first = n - m
        k = first - 1  # one more byte back so the state at k has the token starting at `first` opened from it
        while k > 0 and (0x80 <= y[k] <= 0xBF):
            k -= 1
        if k <= len(self.dummy) + 1 or self.encode_bytes(y[:k]) is None:
            return 0
        return k

    def next_byte_logprobs(self, prefix: bytes) -> np.ndarray:
        return self.state(prefix).next_byte_logprobs()

    def logprob(self, data: bytes, eos: bool = False) -> float:
        """log P(data as a prefix) under the byte-level LM (chain rule of normalised next-byte conditionals);
        with eos=True the text ends right after data."""
        s = self.root()
        total = 0.0
        for b in data:
            total += float(s.next_byte_logprobs()[b])
            s = s.advance(b)
        if eos:
            total += float(s.next_byte_logprobs()[EOT])
        return total

    def byte_logprobs(self, data: bytes, eos: bool = False) -> np.ndarray:
        """Per-byte conditional log-probabilities of data (and of the end when eos=True)."""
        s = self.root()
        out = []
        for b in data:
            out.append(float(s.next_byte_logprobs()[b]))
            s = s.advance(b)
        if eos:
            out.append(float(s.next_byte_logprobs()[EOT]))
        return np.array(out)


class _ContextLM:
    """A TokenLM conditioned on context ids: next_logprobs(ids) = lm.next_logprobs(context + ids), score relative."""

    def __init__(self, lm, context: tuple[int, ...]):
        self.lm, self.context = lm, list(context)
        self.eos_id = getattr(lm, "eos_id", None)
        self._base: float | None = None

    def next_logprobs(self, ids: Sequence[int]) -> np.ndarray:
        return self.lm.next_logprobs(self.context + [int(i) for i in ids])

    def score(self, ids: Sequence[int]) -> float:
        """log P(ids | context) (one scoring forward where the LM has `score`)."""
        ids = [int(i) for i in ids]
        if not hasattr(self.lm, "score"):
            full = self.context + ids
            return sum(float(self.lm.next_logprobs(full[:i])[full[i]]) for i in range(len(self.context), len(full)))
        if self._base is None:
            self._base = float(self.lm.score(self.context))
        return float(self.lm.score(self.context + ids)) - self._base
