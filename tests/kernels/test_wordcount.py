"""The word-table sort (8-byte integer prefixes, whole-word comparison where prefixes tie) gives the byte order of
Python's sorted(), with duplicates summed: checked against Counter + sorted on words built to tie (shared prefixes of
8 bytes and more, trailing zero bytes, the empty word, repeats)."""

from collections import Counter

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tokbench.kernels import wordcount as KW

PREFIXES = [b"", b"internat", b"internationali", b"ab", b"ab\x00", b"\xff" * 9]
words = st.builds(lambda p, tail: p + tail, st.sampled_from(PREFIXES), st.binary(max_size=12))


def _arrays(items):
    offsets = np.zeros(len(items) + 1, np.int64)
    np.cumsum([len(w) for w in items], out=offsets[1:])
    data = np.frombuffer(b"".join(items), np.uint8).copy()
    return data, offsets


@settings(max_examples=300, deadline=None)
@given(st.lists(words, max_size=60), st.integers(1, 2**40))
def test_canonicalize_is_sorted_counter(items, scale):
    data, offsets = _arrays(items)
    counts = np.arange(1, len(items) + 1, dtype=np.int64) * scale
    d, o, c = KW.canonicalize(data, offsets, counts)
    expect = Counter()
    for w, n in zip(items, counts.tolist()):
        expect[w] += n
    got = [bytes(d[o[i]:o[i + 1]]) for i in range(len(c))]
    assert got == sorted(expect) and c.tolist() == [expect[w] for w in got]


@settings(max_examples=200, deadline=None)
@given(st.lists(words, max_size=80))
def test_sort_words_matches_sorted(items):
    data, offsets = _arrays(items)
    order = KW.sort_words(data, offsets)
    assert [items[i] for i in order] == sorted(items)
