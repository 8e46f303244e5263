"""Model specs for the byte commands: anything `tokbench.lm.load_lm` accepts (zoo name such as smollm2, a Hugging
Face folder, a .gguf file), or random:TOKENIZER (a tiny random Llama with that tokenizer's vocabulary, for dry runs
and tests)."""

from __future__ import annotations


def _end_id(tok) -> int | None:
    """The token that ends a plain document: <|endoftext|> where the vocabulary has it (GPT-2 family, SmolLM2's
    pretraining separator), else the eos role."""
    eot = tok.token_to_id("<|endoftext|>")
    return eot if eot is not None else tok.roles.get("eos")


def _need_start(spec: str, start: int | None, eos: int | None) -> None:
    """The first byte's probability is conditioned on a start token: refuse, up front, a tokenizer that has none."""
    if start is None and eos is None:
        from tokbench.errors import UsageError

        raise UsageError(f"{spec}: the tokenizer has no start token (no bos, eos or <|endoftext|>), which byte "
                         "probabilities condition the first byte on; train it with a start token among its special tokens (<s>)")


def load_model(spec: str, seed: int = 0):
    """(tokenizer, HFTokenLM) for a model spec."""
    from tokbench.byteprob.hf import HFTokenLM, tiny_random_llama
    from tokbench.tokenizer import load_tokenizer

    if spec.startswith("random:"):
        tok = load_tokenizer(spec[len("random:"):])
        model = tiny_random_llama(tok.vocab_size, seed=seed)
        start = tok.roles.get("bos")
        eos = _end_id(tok)
        _need_start(spec, start, eos)
        return tok, HFTokenLM(model, eos_id=eos, bos_id=start if start is not None else eos, vocab_size=tok.vocab_size)
    from tokbench.lm import load_lm

    lm = load_lm(spec)
    return lm.tokenizer, token_lm(lm)


def token_lm(lm):
    """The TokenLM (KV-cached next-token log-probs) of a model loaded with `tokbench.lm.load_lm`."""
    from tokbench.byteprob.hf import HFTokenLM

    tok = lm.tokenizer
    start = lm.start_ids[0] if lm.start_ids else None
    eos = _end_id(tok)
    _need_start(getattr(lm, "spec", "the model"), start, eos)
    return HFTokenLM(lm.model, eos_id=eos, bos_id=start if start is not None else eos, vocab_size=tok.vocab_size)
