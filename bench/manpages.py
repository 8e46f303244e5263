"""English man pages from Debian packages: the benchmark text tokbench was never tuned on.

`apt-get download` fetches the packages below (no install), `dpkg-deb -x` unpacks them, and every man page (the roff
source, gunzipped) that is valid UTF-8 becomes one document; duplicates (same bytes) are dropped and the documents are
ordered by file name, so packages interleave. Documents are cut at `size` bytes on a line end. The record names each
package's version, so a run says exactly what it read.

    python -m bench.manpages OUT_DIR [--mb 10 50]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import subprocess
from pathlib import Path

PACKAGES = ("manpages", "manpages-dev", "perl-doc", "git-man", "libssl-doc", "tcl8.6-doc", "tk8.6-doc", "zsh-common",
            "libcurl4-doc", "postgresql-client-15", "libx11-doc", "systemd", "gcc-12", "openssl")


def fetch(folder: Path) -> dict[str, str]:
    """Download and unpack the packages into folder/debs and folder/root (kept: a second run reuses them)."""
    debs, root = folder / "debs", folder / "root"
    debs.mkdir(parents=True, exist_ok=True)
    missing = [p for p in PACKAGES if not list(debs.glob(f"{p}_*.deb"))]
    if missing:
        if subprocess.run(["apt-get", "download", *missing], cwd=debs, capture_output=True).returncode:
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True)
            subprocess.run(["apt-get", "download", *missing], cwd=debs, capture_output=True, check=True)
    versions = {}
    for p in PACKAGES:
        deb = sorted(debs.glob(f"{p}_*.deb"))[-1]
        versions[p] = subprocess.run(["dpkg-deb", "-f", str(deb), "Version"], capture_output=True, text=True,
                                     check=True).stdout.strip()
        marker = root / f".{deb.name}"
        if not marker.exists():
            root.mkdir(parents=True, exist_ok=True)
            subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
            marker.touch()
    return versions


def documents(root: Path) -> list[bytes]:
    pages = sorted((p for p in root.rglob("*.gz") if "/man/man" in str(p) and not p.is_symlink()),
                   key=lambda p: (p.name, str(p)))
    docs, seen = [], set()
    for page in pages:
        data = gzip.decompress(page.read_bytes())
        digest = hashlib.sha1(data).digest()
        if digest in seen or b"\0" in data:
            continue
        seen.add(digest)
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            continue
        docs.append(data if data.endswith(b"\n") else data + b"\n")
    return docs


def build(folder: Path, sizes_mb) -> dict:
    """Write folder/manpages-{N}mb.txt (+ .docs.json: byte offsets where each document starts) for each size."""
    versions = fetch(folder)
    docs = documents(folder / "root")
    blob = b"".join(docs)
    starts, at = [], 0
    for d in docs:
        starts.append(at)
        at += len(d)
    out = {}
    for mb in sizes_mb:
        size = int(mb * 1_000_000)
        if size > len(blob):
            raise SystemExit(f"man pages hold {len(blob):,} bytes, fewer than the {size:,} asked for")
        cut = blob.rfind(b"\n", 0, size) + 1
        path = folder / f"manpages-{mb}mb.txt"
        if not path.exists() or path.stat().st_size != cut:
            path.write_bytes(blob[:cut])
        offsets = [s for s in starts if s < cut]
        path.with_suffix(".docs.json").write_text(json.dumps(offsets))
        out[f"{mb}MB"] = {"file": str(path), "bytes": cut, "documents": len(offsets)}
    return {"source": "Debian man pages (roff source, gunzipped, UTF-8 only, deduplicated, ordered by file name)",
            "packages": versions, "texts": out, "available_bytes": len(blob)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--mb", type=int, nargs="+", default=[10, 50])
    args = ap.parse_args()
    print(json.dumps(build(args.out, args.mb), indent=2))


if __name__ == "__main__":
    main()
