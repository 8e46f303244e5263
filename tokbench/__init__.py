"""tokbench: train, transplant and evaluate tokenizers from the shell."""
__version__ = "0.1.0"
