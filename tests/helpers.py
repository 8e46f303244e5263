"""Helpers shared by test modules (plain functions and constants; fixtures are in the conftest.py files)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# what the installed `tokbench` script runs, with this interpreter: a child process gets the real command
ENTRY_POINT = [sys.executable, "-c", "import tokbench; tokbench.main()"]
NPM = REPO / ".cache" / "npm"  # the npm tokenizer packages `make setup` unpacks
NPM_FILES = {name: NPM / f"tokenizer-{name}" / "package" / "models" / "tokenizer.json"
             for name in ("gpt2", "llama3", "qwen3")}
STRESS = [
    "Hello world",
    "  leading spaces and trailing   ",
    "İstanbul'da ılık bir gün; IĞDIR ığdır İi Iı",
    "中文分词测试，日本語のテキスト。한국어",
    "مرحبا بالعالم والسلام عليكم",
    "emoji 🤗👨‍👩‍👧‍👦 flags 🇹🇷 and skin 👍🏽",
    "def f(x):\r\n\treturn  x ** 2  # comment\n\n\n    pass",
    "numbers 1234567 3.14159 1,000,000 and 2026-11-28",
    "don't won't I'LL we've they'RE",
    "tabs\t\tand\u00a0nbsp\u2003em space\u200bzero width",
    "a" * 300,
    "",
    " ",
    "\n",
]


SPECIAL = "<|endoftext|>"


def stdlib_text(*modules) -> str:
    return "".join(Path(m.__file__).read_text(encoding="utf-8") for m in modules)


def train_bpe(text: str, vocab_size: int, path: Path) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[SPECIAL], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator([text], trainer)
    tok.save(str(path))
    return path


def make_model(folder: Path, tokenizer_json: Path, tied: bool, seed: int = 0) -> Path:
    """A tiny random Llama saved as a HF folder with its tokenizer."""
    import torch
    from tokenizers import Tokenizer
    from transformers import LlamaConfig, LlamaForCausalLM

    vocab = Tokenizer.from_file(str(tokenizer_json)).get_vocab_size()
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                      tie_word_embeddings=tied, bos_token_id=0, eos_token_id=0, pad_token_id=None)
    model = LlamaForCausalLM(cfg)
    with torch.no_grad():  # larger weights than the default init, so logits differ visibly between tokens
        model.get_input_embeddings().weight.normal_(0, 1.0)
        if not tied:
            model.lm_head.weight.normal_(0, 0.5)
    folder.mkdir(parents=True)
    model.save_pretrained(folder)
    (folder / "tokenizer.json").write_bytes(tokenizer_json.read_bytes())
    (folder / "tokenizer_config.json").write_text(json.dumps({"bos_token": SPECIAL, "eos_token": SPECIAL}))
    return folder
