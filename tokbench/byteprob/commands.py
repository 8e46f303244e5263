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


def open_model(spec: str) -> ByteLM:
    from tokbench.byteprob.models import load_model

    tok, lm = load_model(spec)
    return ByteLM(tok, lm)


def token_logprob(blm: ByteLM, text: str, eos: bool = False) -> tuple[float, int]:
    """Token-level log P(enc(text)) (and the end, with eos) in one scoring forward; (logprob, number of tokens)."""
    ids = list(blm.tok.encode(text))
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
    own UTF-8 bytes, as `lm bpb` does. Bits per byte of an empty text are null (no bytes to divide by), not 0 or -0."""
    calls0 = blm.stats.lm_calls
    lp = blm.logprob(blm.view(text), eos=eos)
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
    d = blm.next_byte_logprobs(blm.view(prefix))
    order = np.argsort(-d, kind="stable")[:top]
    return [{"byte": int(b), "char": byte_label(int(b)), "prob": float(np.exp(d[b])), "logprob": float(d[b])}
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


def complete_exact(blm: ByteLM, prefix: bytes, max_bytes: int, rng=None) -> bytes:
    """Byte-level completion: sample (or take the argmax of) the exact next-byte distribution, byte by byte."""
    s = blm.state(prefix)
    out = bytearray()
    for _ in range(max_bytes):
        b = _pick(s.next_byte_logprobs(), rng)
        if b == EOT:
            break
        out.append(b)
        s = s.advance(b)
    return bytes(out)


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


def complete_naive(blm: ByteLM, prefix: bytes, max_bytes: int, rng=None) -> bytes:
    """Token-level completion conditioned on the canonical encoding of the prompt (tokenization bias included)."""
    ids = blm.prompt_ids(prefix)
    return _token_loop(blm, ids, max_bytes, rng)[:max_bytes]


def complete_healing(blm: ByteLM, prefix: bytes, max_bytes: int, rng=None) -> bytes:
    """Token healing: drop the prompt's last token and constrain the next one to start with its bytes."""
    ids = blm.prompt_ids(prefix)
    if not ids:
        return complete_naive(blm, prefix, max_bytes, rng)
    tb = blm.tables.token_bytes
    last = tb[ids[-1]]
    allowed = np.zeros(blm.tables.V, bool)
    allowed[blm.tables.with_prefix(last)] = True
    out = _token_loop(blm, ids[:-1], max_bytes + len(last), rng, allowed=allowed)
    return out[len(last):][:max_bytes]


def complete_record(blm: ByteLM, prefix: str, suffix: str | None, max_bytes: int, sample: bool, seed: int) -> dict:
    """Completions of the prompt as the tokenizer sees it (`ByteLM.view`), and the suffix's bytes after it."""
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
        views = {b.view(text) for b in blms}
        if len(views) > 1:
            out.append({"document": doc, "bytes": len(text.encode("utf-8")), "mixture_bits_per_byte": None,
                        **{f"{name}_bits_per_byte": None for name in names},
                        "reason": "the members read this text as different bytes (normalisation, or a literal ▁ read "
                                  "as a space): no common byte string to mix"})
            continue
        (data,) = views
        states = [b.root() for b in blms]
        member = np.zeros(len(blms))
        mix = 0.0
        for byte in data:
            ds = np.stack([s.next_byte_logprobs() for s in states])
            member += ds[:, byte]
            m = ds + w[:, None]
            mix += float(np.logaddexp.reduce(m[:, byte]) - np.logaddexp.reduce(np.logaddexp.reduce(m, axis=0)))
            states = [s.advance(byte) for s in states]
        n = len(text.encode("utf-8"))
        rec = {"document": doc, "bytes": n, "mixture_bits_per_byte": -mix / LN2 / n}
        for name, v in zip(names, member):
            rec[f"{name}_bits_per_byte"] = -float(v) / LN2 / n
        out.append(rec)
    return out
