"""Hash partitioning of word tables: which of P partitions each word goes to, and the words of one partition.

The hash is FNV-1a over the word's UTF-8 bytes (`tables.hash_bytes`), the same in every process and on every machine
(unlike Python's salted `hash`), so every shard sends a given word to the same partition. Pure array code.
"""

import numpy as np

from tokbench.kernels.jit import njit
from tokbench.kernels.tables import hash_bytes


@njit(cache=True)
def partition_of(data, offsets, parts):
    """Partition index (0..parts-1) of each word data[offsets[i]:offsets[i+1]]."""
    n = offsets.size - 1
    out = np.empty(n, np.int64)
    for i in range(n):
        out[i] = hash_bytes(data, offsets[i], offsets[i + 1]) % parts
    return out


@njit(cache=True)
def take_words(data, offsets, idx):
    """The words idx (in that order) as (flat uint8 data, int64 offsets of length len(idx)+1)."""
    new_off = np.zeros(idx.size + 1, np.int64)
    for r in range(idx.size):
        w = idx[r]
        new_off[r + 1] = new_off[r] + offsets[w + 1] - offsets[w]
    new_data = np.empty(new_off[idx.size], np.uint8)
    for r in range(idx.size):
        w = idx[r]
        new_data[new_off[r]:new_off[r + 1]] = data[offsets[w]:offsets[w + 1]]
    return new_data, new_off
