"""`make bench`: run every benchmark, each in its own process, each writing reports/bench/<name>.json (+ .md).

Ratios against the peers (HF tokenizers, sentencepiece, tiktoken) are measured in the same run, so they hold on any
machine; absolute seconds do not.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ORDER = ("engine", "eval", "supertokens", "transplant", "byteprob", "scale", "tr_flores")


def main(argv: list[str] | None = None) -> int:
    names = (argv if argv is not None else sys.argv[1:]) or [n for n in ORDER if (Path(__file__).parent / f"{n}.py").exists()]
    failed = []
    for name in names:
        started = time.perf_counter()
        print(f"== bench {name}", file=sys.stderr, flush=True)
        code = subprocess.call([sys.executable, "-m", f"bench.{name}"])
        print(f"== bench {name}: exit {code} after {time.perf_counter() - started:.0f}s", file=sys.stderr, flush=True)
        if code:
            failed.append(name)
    if failed:
        print(f"failed benchmarks: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
