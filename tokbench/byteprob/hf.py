"""A Hugging Face causal LM as a TokenLM, with a KV cache kept along the committed token prefix."""

from __future__ import annotations

from typing import Sequence

import numpy as np


class HFTokenLM:
    """next_logprobs(ids) with one forward over the tokens not yet in the KV cache (one token per committed byte).

    The cache follows the last prefix asked for; a request that shares only part of it crops the cache to the shared
    part. ``bos_id`` (default: eos_id) is fed first so that the empty prefix has a distribution. ``calls`` counts
    forwards, ``forward_s`` their wall time.
    """

    def __init__(self, model, eos_id: int | None, bos_id: int | None = None, vocab_size: int | None = None):
        import torch

        self.torch = torch
        self.model = model.eval()
        self.eos_id = eos_id
        self.bos_id = bos_id if bos_id is not None else eos_id
        self.vocab_size = vocab_size
        self.calls = 0
        self.forward_s = 0.0
        self._ids: list[int] = []
        self._cache = None
        self._last: np.ndarray | None = None

    def _full(self, ids: Sequence[int]) -> list[int]:
        return ([self.bos_id] if self.bos_id is not None else []) + [int(i) for i in ids]

    def reset(self) -> None:
        self._ids, self._cache, self._last = [], None, None

    def next_logprobs(self, ids: Sequence[int]) -> np.ndarray:
        import time

        torch = self.torch
        full = self._full(ids)
        if not full:
            raise ValueError("HFTokenLM: an empty prefix needs a bos_id or eos_id to start from")
        if full == self._ids and self._last is not None:
            return self._last
        k = 0
        n = min(len(full), len(self._ids))
        while k < n and full[k] == self._ids[k]:
            k += 1
        keep = min(k, len(full) - 1)
        if self._cache is not None and keep < len(self._ids):
            if keep == 0:
                self._cache = None
            else:
                self._cache.crop(keep - len(self._ids))  # negative: tokens to remove
        if self._cache is None:
            keep = 0
        t0 = time.perf_counter()
        with torch.inference_mode():
            inp = torch.tensor([full[keep:]], dtype=torch.long)
            out = self.model(input_ids=inp, cache=self._cache, use_cache=True)
            logits = out.logits[0, -1].double()
            lp = torch.log_softmax(logits, -1).numpy()
        self.forward_s += time.perf_counter() - t0
        self.calls += 1
        self._cache = out.cache
        self._ids = full
        if self.vocab_size is not None:
            lp = lp[: self.vocab_size]
        self._last = lp
        return lp


    def score(self, ids: Sequence[int]) -> float:
        """log P(ids as a token prefix) in one forward (the cache then holds ids)."""
        torch = self.torch
        ids = [int(i) for i in ids]
        if not ids:
            return 0.0
        full = self._full(ids)
        if self.bos_id is None:
            raise ValueError("HFTokenLM.score needs a bos_id or eos_id to score the first token")
        import time

        t0 = time.perf_counter()
        with torch.inference_mode():
            out = self.model(input_ids=torch.tensor([full], dtype=torch.long), use_cache=True)
            lp = torch.log_softmax(out.logits[0].double(), -1)
            total = float(lp[torch.arange(len(ids)), torch.tensor(ids)].sum())
            last = lp[-1].numpy()
        self.forward_s += time.perf_counter() - t0
        self.calls += 1
        self._cache, self._ids = out.cache, full
        self._last = last[: self.vocab_size] if self.vocab_size is not None else last
        return total


def tiny_random_llama(vocab_size: int, seed: int = 0, hidden: int = 16, layers: int = 1):
    """A tiny random LlamaForCausalLM with the given vocabulary (a fast stand-in for tests and dry runs)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=vocab_size, hidden_size=hidden, intermediate_size=2 * hidden,
                      num_hidden_layers=layers, num_attention_heads=2, num_key_value_heads=1,
                      max_position_embeddings=4096)
    model = LlamaForCausalLM(cfg).eval()
    with torch.no_grad():  # sharper than the default init so the distribution is not nearly uniform
        model.lm_head.weight.mul_(50.0)
    return model
