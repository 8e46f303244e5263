"""Logic behind `tokbench bytes logprob|next|bpb|complete|ensemble` (the CLI only parses flags and prints)."""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np

from tokbench.byteprob.core import EOT, ByteLM

LN2 = math.log(2.0)


def byte_label(b: int) -> str:
    """A byte as a character where printable (end of text as <eot>, others as \\xNN)."""
    if b == EOT:
        return "<eot>"
    c = chr(b)
    return c if 0x20 <= b < 0x7F else repr(c)[1:-1] if b < 0x80 else f"\\x{b:02x}"


def open_model(spec: str, allow_special: bool = False) -> ByteLM:
    """The byte-level LM of a model spec; with allow_special its tokenizer's special-token texts are those tokens."""
    from tokbench.byteprob.models import load_model

    tok, lm = load_model(spec)
    return ByteLM(tok, lm, allowed_special="all" if allow_special else None)


def symbol_label(blm: ByteLM, b: int) -> str:
    """A distribution index as a label: a byte (byte_label), the end of text, or an allowed special token's text."""
    return blm.symbol_label(b) or byte_label(b)


def token_logprob(blm: ByteLM, text: str, eos: bool = False) -> tuple[float, int]:
    """Token-level log P(enc(text)) (and the end, with eos) in one scoring forward; (logprob, number of tokens). The
    allowed special tokens are read as the model sees them."""
    ids = blm.encode_text(text)
    lm = blm.lm
    if hasattr(lm, "score"):
        lp = float(lm.score(ids)) if ids else 0.0
    else:
        lp = sum(float(lm.next_logprobs(ids[:i])[ids[i]]) for i in range(len(ids)))
    if eos and blm.eos_id is not None:
        lp += float(lm.next_logprobs(ids)[blm.eos_id])
    return lp, len(ids)


def logprob_record(blm: ByteLM, text: str, eos: bool = False) -> dict:
    """The walk goes over the text as the tokenizer sees it (`ByteLM.view`); both bits per byte divide by the text's
    own UTF-8 bytes, as `lm bpb` does. Bits per byte of an empty text are null (no bytes to divide by), not 0 or -0.
    With allowed special tokens each one in the text is one event (`ByteLM.text_logprob`) and its text's bytes still
    count in the denominator: bits per byte are over the text's own UTF-8 bytes, whatever reads them."""
    calls0 = blm.stats.lm_calls
    lp = blm.text_logprob(text, eos=eos) if blm.allowed else blm.logprob(blm.view(text), eos=eos)
    tlp, ntok = token_logprob(blm, text, eos=eos)
    n = len(text.encode("utf-8"))
    return {"bytes": n, "tokens": ntok, "logprob": lp, "bits_per_byte": -lp / LN2 / n if n else None,
            "token_logprob": tlp, "token_bits_per_byte": -tlp / LN2 / n if n else None,
            "lm_calls": blm.stats.lm_calls - calls0, "resyncs": blm.stats.resyncs}


def finite_records(records: list[dict]) -> list[dict]:
    """JSON has no Infinity: a field that is +-inf or NaN becomes null, and a `reason` field says which and why (a
    WordPiece tokenizer, or an ensemble member, that cannot spell the text gives it probability 0)."""
    out = []
    for rec in records:
        bad = [k for k, v in rec.items() if isinstance(v, float) and not math.isfinite(v)]
        if not bad:
            out.append(rec)
            continue
        fixed = {k: (None if k in bad else v) for k, v in rec.items()}
        kinds = sorted({"-inf" if rec[k] == -math.inf else "inf" if rec[k] == math.inf else "nan" for k in bad})
        fixed["reason"] = (f"{', '.join(bad)}: {'/'.join(kinds)} (probability 0: the tokenizer cannot produce this "
                           "text exactly)" if "nan" not in kinds else f"{', '.join(bad)}: not a number")
        out.append(fixed)
    return out


def next_records(blm: ByteLM, prefix: str, top: int = 10) -> list[dict]:
    """The likeliest next symbols: bytes, the end of text, and (allowed) special tokens, whose "byte" is their index
    in the distribution (257 + k) and "char" their text."""
    d = blm.text_state(prefix).next_byte_logprobs() if blm.allowed else blm.next_byte_logprobs(blm.view(prefix))
    order = np.argsort(-d, kind="stable")[:top]
    return [{"byte": int(b), "char": symbol_label(blm, int(b)), "prob": float(np.exp(d[b])), "logprob": float(d[b])}
            for b in order if np.isfinite(d[b])]


def bpb_records(blm: ByteLM, docs: Iterable[tuple[str, str]], max_bytes: int = 256) -> list[dict]:
    """Exact byte-level bits per byte over the first max_bytes bytes of each document (cut at a character boundary),
    next to token-level bits per byte of the canonical encoding of the same text."""
    out = []
    for name, text in docs:
        text = text.encode("utf-8")[:max_bytes].decode("utf-8", errors="ignore")
        if not text:
            continue
        rec = logprob_record(blm, text)
        out.append({"document": name, "bytes": rec["bytes"], "exact_bits_per_byte": rec["bits_per_byte"],
                    "token_bits_per_byte": rec["token_bits_per_byte"], "lm_calls": rec["lm_calls"]})
    return out


def exact_bits_per_byte(blm: ByteLM, texts: Iterable[str], max_bytes: int = 256) -> dict:
    """For `tokbench eval`: exact byte-level and token-level bits per byte pooled over the first max_bytes bytes of
    each text (one incremental LM call per byte, so keep max_bytes small)."""
    recs = bpb_records(blm, ((str(i), t) for i, t in enumerate(texts)), max_bytes)
    n = sum(r["bytes"] for r in recs)
    if not n:
        return {"exact_bytes": 0, "exact_bits_per_byte": math.nan, "token_bits_per_byte_same_bytes": math.nan}
    return {"exact_bytes": n,
            "exact_bits_per_byte": sum(r["exact_bits_per_byte"] * r["bytes"] for r in recs) / n,
            "token_bits_per_byte_same_bytes": sum(r["token_bits_per_byte"] * r["bytes"] for r in recs) / n}


# ----- completion -----
def _pick(d: np.ndarray, rng: np.random.Generator | None) -> int:
    if rng is None:
        return int(np.argmax(d))
    p = np.exp(d - np.max(d))
    return int(rng.choice(len(d), p=p / p.sum()))


def complete_exact(blm: ByteLM, prefix: bytes, max_bytes: int, rng=None, state=None) -> bytes:
    """Byte-level completion: sample (or take the argmax of) the exact next-byte distribution, byte by byte (from
    `state` where given: a prompt read with allowed specials); an allowed special token drawn adds its text."""
    s = blm.state(prefix) if state is None else state
    out = bytearray()
    while len(out) < max_bytes:
        b = _pick(s.next_byte_logprobs(), rng)
        if b == EOT:
            break
        if b > EOT:
            out += blm.symbol_label(b).encode("utf-8")
            s = s.after_special(b)
            continue
        out.append(b)
        s = s.advance(b)
    return bytes(out[:max_bytes])


def _token_loop(blm: ByteLM, ids: list[int], max_bytes: int, rng, allowed=None) -> bytes:
    tb = blm.tables.token_bytes
    out = bytearray()
    ids = list(ids)
    while len(out) < max_bytes:
        q = np.array(blm.lm.next_logprobs(ids), dtype=float)
        if allowed is not None:
            q = np.where(allowed, q, -np.inf)
            allowed = None
        t = _pick(q, rng)
        if t == blm.eos_id or t in blm.tok.special_ids:
            break
        ids.append(t)
        out += tb[t]
    return bytes(out)


def complete_naive(blm: ByteLM, prefix: bytes, max_bytes: int, rng=None, ids=None) -> bytes:
    """Token-level completion conditioned on the canonical encoding of the prompt (tokenization bias included), or on
    `ids` where given (a prompt read with allowed specials)."""
    ids = blm.prompt_ids(prefix) if ids is None else ids
    return _token_loop(blm, ids, max_bytes, rng)[:max_bytes]


def complete_healing(blm: ByteLM, prefix: bytes, max_bytes: int, rng=None, ids=None) -> bytes:
    """Token healing: drop the prompt's last token and constrain the next one to start with its bytes (a prompt that
    ends with a special token has nothing to heal)."""
    ids = blm.prompt_ids(prefix) if ids is None else ids
    if not ids or ids[-1] in blm.tok.special_ids:
        return complete_naive(blm, prefix, max_bytes, rng, ids)
    tb = blm.tables.token_bytes
    last = tb[ids[-1]]
    allowed = np.zeros(blm.tables.V, bool)
    allowed[blm.tables.with_prefix(last)] = True
    out = _token_loop(blm, ids[:-1], max_bytes + len(last), rng, allowed=allowed)
    return out[len(last):][:max_bytes]


def complete_record(blm: ByteLM, prefix: str, suffix: str | None, max_bytes: int, sample: bool, seed: int) -> dict:
    """Completions of the prompt as the tokenizer sees it (`ByteLM.view`), and the suffix's bytes after it. With
    allowed special tokens the prompt (and suffix) are read with them, as the model sees them."""
    if blm.allowed:
        return _complete_record_special(blm, prefix, suffix, max_bytes, sample, seed)
    p = blm.view(prefix)
    rec: dict = {"prefix": prefix}
    for name, fn in (("exact", complete_exact), ("naive", complete_naive), ("healing", complete_healing)):
        rng = np.random.default_rng(seed) if sample else None
        rec[name] = fn(blm, p, max_bytes, rng).decode("utf-8", errors="replace")
    if suffix is not None:
        # how likely each method finds the given continuation: exact byte-level vs conditioning on enc(prefix)
        whole = blm.view(prefix + suffix)
        sb = whole[len(p):] if whole.startswith(p) else suffix.encode("utf-8")
        rec["suffix"] = suffix
        rec["exact_suffix_logprob"] = blm.logprob(p + sb) - blm.logprob(p)
        whole, _ = token_logprob(blm, prefix + suffix)
        rec["naive_suffix_logprob"] = naive_suffix_logprob(blm, p, sb)
        rec["joint_token_logprob"] = whole
    return rec


def _complete_record_special(blm: ByteLM, prefix: str, suffix: str | None, max_bytes: int, sample: bool,
                             seed: int) -> dict:
    """complete_record with allowed specials: the exact walk from the prompt's state (`ByteLM.text_state`), the
    token-level methods from the ids the model sees; the suffix scored as text after the prompt."""
    ids = blm.encode_text(prefix)
    rec: dict = {"prefix": prefix}
    runs = (("exact", lambda rng: complete_exact(blm, b"", max_bytes, rng, state=blm.text_state(prefix))),
            ("naive", lambda rng: complete_naive(blm, b"", max_bytes, rng, ids=ids)),
            ("healing", lambda rng: complete_healing(blm, b"", max_bytes, rng, ids=ids)))
    for name, run in runs:
        rec[name] = run(np.random.default_rng(seed) if sample else None).decode("utf-8", errors="replace")
    if suffix is not None:
        rec["suffix"] = suffix
        rec["exact_suffix_logprob"] = blm.text_logprob(prefix + suffix) - blm.text_logprob(prefix)
        sids = blm.encode_text(suffix)
        lp, ctx = 0.0, list(ids)
        for t in sids:  # the suffix tokenized on its own after the prompt's tokens
            lp += float(blm.lm.next_logprobs(ctx)[t])
            ctx.append(t)
        rec["naive_suffix_logprob"] = lp
        rec["joint_token_logprob"] = token_logprob(blm, prefix + suffix)[0]
    return rec


def naive_suffix_logprob(blm: ByteLM, prefix: bytes, suffix: bytes) -> float:
    """log P(suffix | enc(prefix)) at token level: the suffix is tokenized on its own after the prompt's tokens."""
    ids = blm.prompt_ids(prefix)
    try:
        sids = list(blm.tok.encode(suffix.decode("utf-8")))
    except UnicodeDecodeError:
        return -math.inf
    if blm.dummy and sids and blm.tables.token_bytes[sids[0]].startswith(blm.dummy) and not suffix.startswith(blm.dummy):
        return -math.inf
    lp = 0.0
    for t in sids:
        lp += float(blm.lm.next_logprobs(ids)[t])
        ids = ids + [t]
    return lp


# ----- ensembles -----
def ensemble_records(blms: list[ByteLM], names: list[str], docs: Iterable[tuple[str, str]], max_bytes: int = 256,
                     weights: list[float] | None = None) -> list[dict]:
    """Mix next-byte distributions of models with different tokenizers (fixed weights, in probability space);
    bits per byte of the mixture and of each member over the first max_bytes bytes of each document. The members
    walk the text as their tokenizers see it (`ByteLM.view`); where those bytes differ (a literal ▁ that a
    SentencePiece member reads as a space) there is no one byte string to mix, and the record says so."""
    w = np.log(np.array(weights or [1.0 / len(blms)] * len(blms)))
    out = []
    for doc, text in docs:
        text = text.encode("utf-8")[:max_bytes].decode("utf-8", errors="ignore")
        if not text:
            continue
        n = len(text.encode("utf-8"))
        parts = [b.split(text) for b in blms]
        reason = None
        if any(p != parts[0] for p in parts[1:]):
            reason = ("the members read special tokens differently (a special token of one is text to another): no "
                      "common sequence of events to mix")
        elif any(len({b.view(part) for b in blms}) > 1 for part, special in parts[0] if not special):
            reason = ("the members read this text as different bytes (normalisation, or a literal ▁ read as a space): "
                      "no common byte string to mix")
        if reason is not None:
            out.append({"document": doc, "bytes": n, "mixture_bits_per_byte": None,
                        **{f"{name}_bits_per_byte": None for name in names}, "reason": reason})
            continue
        states = [b.root() for b in blms]
        member = np.zeros(len(blms))
        mix = 0.0
        for part, special in parts[0]:
            # one event per byte of a plain part, one per special token (each member's index for its text)
            events = [[b.symbol_of[part] for b in blms]] if special else [[x] * len(blms) for x in blms[0].view(part)]
            for idx in events:
                ds = [s.next_byte_logprobs() for s in states]
                picked = np.array([d[i] for d, i in zip(ds, idx)])
                member += picked
                if len({len(d) for d in ds}) == 1:
                    m = np.stack(ds) + w[:, None]
                    norm = np.logaddexp.reduce(np.logaddexp.reduce(m, axis=0))
                else:
                    norm = np.logaddexp.reduce(w + np.array([np.logaddexp.reduce(d) for d in ds]))
                mix += float(np.logaddexp.reduce(picked + w) - norm)
                states = [s.after_special(i) if special else s.advance(i) for s, i in zip(states, idx)]
        rec = {"document": doc, "bytes": n, "mixture_bits_per_byte": -mix / LN2 / n}
        for name, v in zip(names, member):
            rec[f"{name}_bits_per_byte"] = -float(v) / LN2 / n
        out.append(rec)
    return out
