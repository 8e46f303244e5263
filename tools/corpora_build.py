"""Build tokbench's bundled corpora from pinned Debian packages and the local Python standard library.

Why a recipe and not a download: the corpora must be real text, reproducible offline from a package registry, and
byte-identical from run to run. Every corpus is a folder of UTF-8 ``.txt`` files (one document each); MANIFEST.json
records the source package and version, licence, document count, bytes and sha256 of each corpus.

    python tools/corpora_build.py            # rebuild the small committed sample under corpora/
    python tools/corpora_build.py --full     # the full corpora under corpora/full/ (gitignored)

Self-contained (stdlib only) so it runs before tokbench's dependencies are installed.
"""

from __future__ import annotations

import argparse
import ast
import concurrent.futures
import gzip
import hashlib
import html
import html.parser
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import unicodedata
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# Pinned versions (Debian 12 "bookworm"). If the mirror no longer offers a pin, the candidate version is used and the
# manifest records it (the output then differs from the committed sample, as it should).
PINS = {
    "dict-gcide": "0.48.5+nmu2",
    "linux-doc-6.1": "6.1.176-1",
    "debian-handbook": "11.20220922",
    "gnome-user-docs": "43.0-2",
    "base-files": "12.4+deb12u15",
}
LO_VERSION = "4:7.4.7-1+deb12u14"

# Packages fetched only for their Debian copyright files (the `legal` corpus): common base packages.
LEGAL_PINS = {
    "apt": "2.6.1",
    "bash": "5.2.15-2+b13",
    "coreutils": "9.1-1",
    "curl": "7.88.1-10+deb12u15",
    "dpkg": "1.21.23",
    "gcc-12-base": "12.2.0-14+deb12u1",
    "git": "1:2.39.5-0+deb12u3",
    "gnupg": "2.2.40-1.1+deb12u2",
    "grep": "3.8-5",
    "gzip": "1.12-1",
    "libc6": "2.36-9+deb12u14",
    "libgnutls30": "3.7.9-2+deb12u7",
    "libxml2": "2.9.14+dfsg-1.3~deb12u6",
    "openssl": "3.0.20-1~deb12u2",
    "perl-base": "5.36.0-7+deb12u3",
    "python3.11-minimal": "3.11.2-6+deb12u8",
    "sed": "4.9-1+deb12u1",
    "sqlite3": "3.40.1-2+deb12u2",
    "systemd": "252.39-1~deb12u2",
    "tar": "1.34+dfsg-1.2+deb12u1",
    "util-linux": "2.38.1-5+deb12u3",
    "zlib1g": "1:1.2.13.dfsg-1",
}

# multi/<lang>, pairs, parallel: our language code -> locales of (debian-handbook, gnome-user-docs, LibreOffice help);
# None where the package has no such translation. LibreOffice help comes one package per language.
LANGS = {
    "en": ("en-US", "C", "en-US"),
    "tr": ("tr-TR", "tr", "tr"),
    "de": ("de-DE", "de", "de"),
    "fr": ("fr-FR", "fr", "fr"),
    "ru": ("ru-RU", "ru", "ru"),
    "ja": ("ja-JP", "ja", "ja"),
    "ar": ("ar-MA", None, None),
    "zh": ("zh-CN", "zh_CN", "zh-CN"),
}
for _lo in filter(None, (v[2] for v in LANGS.values())):
    PINS[f"libreoffice-help-{_lo.lower()}"] = LO_VERSION

MAX_DOC_BYTES = 1_000_000  # no document above ~1 MB
CHUNK_BYTES = 500_000  # long sources (the dictionary) are cut into documents of about this size

# Sample budgets (bytes per corpus) for the committed sample; total must stay under 2 MB.
SAMPLE_BUDGET = {
    "en-dict": 150_000,
    "en-tech": 350_000,
    "code-py": 150_000,
    "legal": 150_000,
    "multi": 50_000,  # per language
    "pairs": 20_000,  # per language pair, larger side
    "parallel": 25_000,  # n-way parallel set, largest language
}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------------------------------
# Debian packages


class BuildError(Exception):
    """A build step failed; the message names what and why."""


def cache_root() -> Path:
    env = os.environ.get("TOKBENCH_CACHE")
    return Path(env) if env else REPO / ".cache"


@dataclass
class Package:
    name: str
    version: str
    root: Path  # extracted tree

    def ref(self) -> dict:
        return {"package": self.name, "version": self.version}


_apt_updated = False


def _apt(args: list[str], cwd: Path) -> bool:
    try:
        r = subprocess.run(["apt-get", *args], cwd=cwd, capture_output=True, text=True)
    except FileNotFoundError:
        raise BuildError("apt-get not found: the corpora are built from Debian packages (use the committed sample)")
    return r.returncode == 0


def fetch(name: str) -> Package:
    """Download (once, cached) and extract a Debian package, preferring the pinned version."""
    global _apt_updated
    debs = cache_root() / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    pin = PINS.get(name) or LEGAL_PINS.get(name)

    def cached() -> list[Path]:
        pat = f"{name}_{pin.replace(':', '%3a')}_*.deb" if pin else f"{name}_*.deb"
        return sorted(debs.glob(pat))

    found = cached()
    if not found:
        spec = f"{name}={pin}" if pin else name
        ok = _apt(["download", spec], debs)
        if not ok and not _apt_updated:
            _apt_updated = True
            log("apt-get update")
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True)
            ok = _apt(["download", spec], debs)
        found = cached()
        if not ok or not found:
            log(f"warning: {spec} not available; using the candidate version of {name}")
            if not _apt(["download", name], debs):
                raise BuildError(f"apt-get download {name} failed")
            pin = None
            found = cached()
    if not found:
        raise BuildError(f"{name}: no .deb in {debs} after download")
    deb = found[-1]
    version = subprocess.run(
        ["dpkg-deb", "-f", str(deb), "Version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    root = cache_root() / "extract" / f"{name}_{version}"
    if not (root / ".complete").exists():
        if root.exists():
            shutil.rmtree(root)
        root.mkdir(parents=True)
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
        (root / ".complete").touch()
    return Package(name, version, root)


# ----------------------------------------------------------------------------------------------------------------
# Text helpers

_WS = re.compile(r"[ \t\r\f\v\u00a0]+")


_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # Unicode category Cc except tab and newline


def rstrip_lines(text: str) -> str:
    return "\n".join(ln.rstrip() for ln in text.split("\n"))


def clean_text(text: str) -> str:
    """NFC, no control characters, no trailing spaces, at most one blank line in a row, one final newline."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _CONTROL.sub("", text)
    text = re.sub(r"\n{3,}", "\n\n", rstrip_lines(text)).strip("\n")
    return text + "\n" if text else ""


def decode_lenient(data: bytes) -> str:
    """UTF-8, with stray single bytes read as cp1252 (GCIDE 0.48 has three such bytes: \x92, \xe7, \xb9)."""
    text = data.decode("utf-8", errors="surrogateescape")
    return re.sub(
        "[\udc80-\udcff]", lambda m: bytes([ord(m.group()) - 0xDC00]).decode("cp1252", errors="replace"), text
    )


def cut(text: str, limit: int) -> str:
    """The longest prefix of whole paragraphs (else lines) within `limit` UTF-8 bytes."""
    data = text.encode()
    if len(data) <= limit:
        return text
    head = data[:limit].decode("utf-8", errors="ignore")
    for sep in ("\n\n", "\n"):
        i = head.rfind(sep)
        if i > limit // 4:
            return head[: i + 1]
    return head


def cut_python(text: str, limit: int) -> str:
    """The longest prefix of whole top-level statements within `limit` bytes, so a cut module still parses."""
    if len(text.encode()) <= limit:
        return text
    try:
        body = ast.parse(text).body
    except SyntaxError:
        return ""
    lines = text.splitlines(keepends=True)
    best = ""
    for node in body:
        prefix = "".join(lines[: node.end_lineno])
        if len(prefix.encode()) > limit:
            break
        best = prefix
    return best


def chunks(parts: list[str], limit: int) -> list[str]:
    """Group consecutive parts into documents of at most ~limit bytes (a single oversized part is cut)."""
    out, cur, size = [], [], 0
    for p in parts:
        n = len(p.encode())
        if cur and size + n > limit:
            out.append("".join(cur))
            cur, size = [], 0
        cur.append(cut(p, limit))
        size += n
    if cur:
        out.append("".join(cur))
    return out


def safe_name(rel: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", rel.replace("/", "__"))
    return stem + ".txt"


# ----------------------------------------------------------------------------------------------------------------
# GCIDE (dictd format) -> readable text

# GCIDE's ASCII diacritic codes ("[=a]" is a-macron, "[e^]" e-breve, ...) -> Unicode.
_GCIDE_MARK = {"=": "\u0304", "^": "\u0302", "'": "\u0301", "`": "\u0300", '"': "\u0308", "~": "\u0303",
               ".": "\u0307", ",": "\u0327", "-": "\u0304"}
_GCIDE_WORDS = {
    "ae": "æ", "AE": "Æ", "oe": "œ", "OE": "Œ", "eth": "ð", "thorn": "þ", "imac": "ī", "deg": "°",
    "sect": "§", "yogh": "ȝ", "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "pounds": "£",
    "=oo": "o͞o", "oo^": "o͝o", "=ae": "ǣ", "ng": "ŋ", "th": "th", "root": "√", "add": "+", "bprime": "″",
    "prime": "′", "asl": "a", "aum": "ä", "udd": "ü", "dsdot": "ḍ", "bar": "|",
}
_GCIDE_CODE = re.compile(r"\[([A-Za-z]{1,2}\^|[=^'`\"~.,-][A-Za-z]|[a-z]{2,6}|AE|OE|=oo|oo\^|=ae)\]")


def _gcide_char(m: re.Match) -> str:
    code = m.group(1)
    if code in _GCIDE_WORDS:
        return _GCIDE_WORDS[code]
    if len(code) == 2 and code[1] == "^" and code[0].isalpha():
        return unicodedata.normalize("NFC", code[0] + "\u0306")  # breve
    if len(code) == 2 and code[0] in _GCIDE_MARK and code[1].isalpha():
        return unicodedata.normalize("NFC", code[1] + _GCIDE_MARK[code[0]])
    return m.group(0)  # a real bracketed word such as [Obs.] is kept


_SOURCE_TAG = re.compile(  # a line holding only a source tag: "[1913 Webster]", "[PJC]", "[WordNet 1.5]"...
    r"^[ \t]*\[(?:1913 Webster|PJC|WordNet[^\]\n]*|Webster 1913 Suppl\.|[A-Z][^\]\n]{0,30})\][ \t]*(?:\n|\Z)", re.M)
_SOURCE_INLINE = re.compile(r"\[(?:1913 Webster|Webster 1913|WordNet|PJC)[^\]\n]*\]")
_PRON = re.compile(r"\\[^\\\n]*\\\s*(\([^()\n]*\))?,?\s*")


def gcide_entries(raw: str) -> list[tuple[str, str]]:
    """Split the dictd data into (headword, readable text) entries, dropping the 00-database header entries."""
    raw = _SOURCE_TAG.sub("", raw)
    raw = _SOURCE_INLINE.sub("", raw)
    raw = _GCIDE_CODE.sub(_gcide_char, raw).replace("{", "").replace("}", "")
    raw = rstrip_lines(raw)
    entries = []
    for block in re.split(r"\n(?=\S)", raw):
        head = block.split("\n", 1)[0]
        if head.startswith("00-") or not block.strip():
            continue
        text = block.replace("\n   ", "\n")  # continuation lines are indented by three spaces
        text = _PRON.sub(" ", text, count=1)  # "\A*bac"u*lus\ (pron)," pronunciation markup of the headword
        first, _, rest = text.partition("\n")
        text = (re.sub(" {2,}", " ", first).strip() + "\n" + rest).strip()
        if text:
            entries.append((head.strip(), text))
    return entries


def build_en_dict(pkg: Package) -> list[tuple[str, str]]:
    raw = decode_lenient(gzip.open(pkg.root / "usr/share/dictd/gcide.dict.dz").read())
    groups: dict[str, list[str]] = {}
    for head, text in gcide_entries(raw):
        key = head[:1].upper() if head[:1].isalpha() and head[:1].isascii() else "other"
        groups.setdefault(key, []).append(text + "\n\n")
    docs = []
    for key in sorted(groups):
        for i, doc in enumerate(chunks(groups[key], CHUNK_BYTES)):
            docs.append((f"gcide-{key}-{i:02d}.txt", clean_text(doc)))
    return docs


# ----------------------------------------------------------------------------------------------------------------
# Kernel documentation (reST sources)


def build_en_tech(pkg: Package) -> list[tuple[str, str]]:
    base = pkg.root / f"usr/share/doc/{pkg.name}/html/_sources"
    if not base.is_dir():
        raise BuildError(f"{pkg.name}: no _sources folder at {base}")
    docs = []
    for p in sorted(base.rglob("*.rst.txt")):
        if p.is_symlink() or not p.is_file():
            continue
        rel = p.relative_to(base).as_posix()[: -len(".rst.txt")]
        # skip translations of the kernel docs: en-tech is English
        if rel.startswith("translations/"):
            continue
        try:
            text = clean_text(p.read_bytes().decode("utf-8"))
        except UnicodeDecodeError:
            continue
        if text:
            docs.append((safe_name(rel), cut(text, MAX_DOC_BYTES)))
    return docs


# ----------------------------------------------------------------------------------------------------------------
# Python standard library

_SKIP_DIRS = {"site-packages", "dist-packages", "test", "tests", "idle_test", "__pycache__"}


def build_code_py() -> tuple[list[tuple[str, str]], dict]:
    base = Path(sysconfig.get_paths()["stdlib"])
    docs = []
    for p in sorted(base.rglob("*.py")):
        rel = p.relative_to(base)
        if any(part in _SKIP_DIRS for part in rel.parts[:-1]) or p.is_symlink():
            continue
        try:
            text = p.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            continue
        text = clean_text(text)
        if text:
            docs.append((safe_name(rel.as_posix()[:-3]), cut(text, MAX_DOC_BYTES)))
    src = {"package": "python-stdlib", "version": platform.python_version(),
           "implementation": platform.python_implementation()}
    return docs, src


# ----------------------------------------------------------------------------------------------------------------
# Licences and copyright files (from the downloaded debs only, so the result does not depend on what is installed)


def build_legal(pkgs: list[Package]) -> list[tuple[str, str]]:
    docs = []
    for pkg in pkgs:
        lic = pkg.root / "usr/share/common-licenses"
        if lic.is_dir():
            for p in sorted(lic.iterdir()):
                if p.is_file() and not p.is_symlink():
                    docs.append((safe_name(f"common-licenses/{p.name}"), clean_text(p.read_text("utf-8"))))
        for p in sorted((pkg.root / "usr/share/doc").glob("*/copyright")):
            if p.is_file() and not p.is_symlink():
                docs.append((safe_name(f"copyright/{p.parent.name}"), clean_text(p.read_text("utf-8"))))
    return sorted(docs)


# ----------------------------------------------------------------------------------------------------------------
# HTML (Debian handbook) and Mallard XML (GNOME help) -> plain text

_HTML_BLOCK = {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "dt", "dd", "pre", "tr", "td", "th", "table",
               "ul", "ol", "dl", "blockquote", "section", "article", "br", "hr", "caption", "figure", "figcaption"}
_HTML_VOID = {"br", "hr", "img", "meta", "link", "input", "area", "base", "col", "embed", "source", "wbr"}
_HTML_SKIP = {"head", "script", "style", "noscript", "nav", "title", "header", "footer", "aside", "button", "label"}


class _HTMLText(html.parser.HTMLParser):
    """Collects paragraphs of visible text; drops head, scripts, navigation and banners."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, bool]] = []  # (tag, skipping)
        self.paras: list[str] = []
        self.cur: list[str] = []
        self.pre = 0

    def _skipping(self) -> bool:
        return bool(self.stack) and self.stack[-1][1]

    def _flush(self) -> None:
        s = "".join(self.cur)
        s = s.strip("\n") if self.pre else _WS.sub(" ", s.replace("\n", " ")).strip()
        if s.strip():
            self.paras.append(s)
        self.cur = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = (a.get("class") or "").split()
        skip = self._skipping() or tag in _HTML_SKIP or "docnav" in cls or a.get("id") in ("banner", "title")
        if tag in _HTML_BLOCK and not self._skipping():
            self._flush()
        if tag == "pre" and not skip:
            self.pre += 1
        if tag not in _HTML_VOID:
            self.stack.append((tag, skip))

    def handle_startendtag(self, tag, attrs):
        if tag in _HTML_BLOCK and not self._skipping():
            self._flush()

    def handle_endtag(self, tag):
        if tag in _HTML_VOID:
            return
        # pop to the matching tag (tolerates unclosed elements)
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                skipping = self.stack[i][1]
                del self.stack[i:]
                if tag in _HTML_BLOCK and not skipping:
                    self._flush()
                if tag == "pre" and not skipping:
                    self.pre -= 1
                break

    def handle_data(self, data):
        if not self._skipping():
            self.cur.append(data)


def html_paragraphs(data: str) -> list[str]:
    p = _HTMLText()
    p.feed(data)
    p.close()
    p._flush()
    return p.paras


_MAL = "{http://projectmallard.org/1.0/}"
_MAL_BLOCK = {"title", "subtitle", "p", "screen", "code", "desc", "item", "tr", "td", "th", "terms", "steps",
              "list", "tree", "note", "section", "synopsis", "example", "quote", "figure", "caption", "listing",
              "links", "comment", "table", "cite", "page"}
_MAL_INLINE_PARENTS = {"p", "title", "subtitle", "desc", "em", "gui", "guiseq", "link", "span", "app", "cmd", "sys",
                       "file", "key", "keyseq", "input", "output", "var", "hi", "caption", "cite", "name", "code"}
_MAL_SKIP = {"info", "media", "comment", "links", "include"}


def mallard_paragraphs(data: bytes) -> list[str]:
    """Visible text of a Mallard page, one paragraph per block element; <info>, media and comments are dropped."""
    root = ET.fromstring(data)
    paras: list[str] = []
    cur: list[str] = []

    def flush(verbatim: bool = False) -> None:
        s = "".join(cur)
        s = s.strip("\n") if verbatim else _WS.sub(" ", s.replace("\n", " ")).strip()
        if s.strip():
            paras.append(s)
        cur.clear()

    def walk(el: ET.Element, verbatim: bool, parent: str) -> None:
        tag = el.tag.split("}")[-1] if isinstance(el.tag, str) else ""
        if not tag or tag in _MAL_SKIP:
            if el.tail:
                cur.append(el.tail)
            return
        # <code> is a block only outside running text
        block = tag in _MAL_BLOCK and not (tag == "code" and parent in _MAL_INLINE_PARENTS)
        vb = verbatim or (tag in ("screen", "code") and block)
        if block:
            flush(verbatim)
        if el.text:
            cur.append(el.text)
        for child in el:
            walk(child, vb, tag)
        if block:
            flush(vb)
        if el.tail:
            cur.append(el.tail)

    walk(root, False, "")
    flush()
    return paras


# ----------------------------------------------------------------------------------------------------------------
# Multilingual slices and paragraph-aligned parallel pairs


def _handbook_pages(pkg: Package, locale: str) -> dict[str, list[str]]:
    base = pkg.root / "usr/share/doc/debian-handbook/html" / locale
    if not base.is_dir():
        raise BuildError(f"debian-handbook: no locale {locale} in {base.parent}")
    return {f"handbook.{p.stem}": html_paragraphs(p.read_text("utf-8")) for p in sorted(base.glob("*.html"))}


def _gnome_pages(pkg: Package, locale: str) -> dict[str, list[str]]:
    base = pkg.root / "usr/share/help" / locale
    pages = {}
    for p in sorted(base.glob("*/*.page")):
        pages[f"gnome.{p.parent.name}.{p.stem}"] = mallard_paragraphs(p.read_bytes())
    return pages


def _libreoffice_pages(pk: dict[str, Package], locale: str | None) -> dict[str, list[str]]:
    if not locale:
        return {}
    pkg = pk[f"libreoffice-help-{locale.lower()}"]
    base = pkg.root / "usr/share/libreoffice/help" / locale
    if not base.is_dir():
        raise BuildError(f"{pkg.name}: no help folder {base}")
    pages = {}
    for p in sorted((base / "text").rglob("*.html")):
        text = p.read_text("utf-8")
        # only the help text itself: skip the page chrome before DisplayArea and the debug footer (faster to parse)
        i, j = text.find('<div id="DisplayArea"'), text.find("<footer")
        text = text[max(i, 0): j if j >= 0 else len(text)]
        pages["libreoffice." + p.relative_to(base / "text").as_posix()[: -len(".html")]] = html_paragraphs(text)
    return pages


# Frequent English function words that are not common words of tr, de, fr (so "in", "an", "a", "on", "was" are out).
_EN_WORDS = frozenset("the of and to is for with that this are be from by which you your can will when it not has "
                      "have if there these they their should been would".split())


def looks_english(text: str) -> bool:
    """A paragraph left in English (or an outdated English msgstr): many English function words among its words."""
    words = re.findall(r"[^\W\d_]+", text.lower())
    if len(words) < 6:
        return False
    return sum(w in _EN_WORDS for w in words) / len(words) >= 0.12


def translated_pairs(en: list[str], xx: list[str]) -> list[tuple[str, str]]:
    """Aligned (English, translation) paragraph pairs whose text was actually translated.

    Both sources are translated paragraph by paragraph (po files), so an English page and its translation have the
    same paragraphs in the same order; untranslated paragraphs stay English and are dropped here. Pages whose
    paragraph counts differ are not aligned and give no pairs."""
    if len(en) != len(xx):
        return []
    return [(e, t) for e, t in zip(en, xx) if e != t and not looks_english(t)]


MIN_DOC_CHARS = 200


@dataclass
class Multilingual:
    multi: dict[str, list]  # lang -> [(name, text)]
    pairs: dict[str, list]  # lang -> [(name, [(en_para, xx_para), ...])]
    parallel: list  # [(name, [(en_para, tr_para, de_para, ...) in LANGS order])], handbook paragraphs in every language


def _language_pages(pk: dict[str, Package], lang: str) -> dict[str, list[str]]:
    """Every page of one language, name -> paragraphs, from the three sources."""
    hloc, gloc, lloc = LANGS[lang]
    pages = _handbook_pages(pk["debian-handbook"], hloc)
    if gloc:
        pages.update(_gnome_pages(pk["gnome-user-docs"], gloc))
    pages.update(_libreoffice_pages(pk, lloc))
    return pages


def build_multilingual(pk: dict[str, Package]) -> Multilingual:
    langs = list(LANGS)
    workers = max(1, min(len(langs), os.cpu_count() or 1))
    with concurrent.futures.ProcessPoolExecutor(workers) as pool:  # parsing ~18k HTML pages is the slow part
        pages = dict(zip(langs, pool.map(_language_pages, [pk] * len(langs), langs)))
    en_pages = pages["en"]
    ml = Multilingual({"en": [(safe_name(k), "\n\n".join(v)) for k, v in sorted(en_pages.items()) if v]}, {}, [])
    for lang in langs[1:]:
        mdocs, pdocs = [], []
        for name, paras in sorted(pages[lang].items()):
            en = en_pages.get(name, [])
            pairs = translated_pairs(en, paras)
            if pairs:
                own = [t for _, t in pairs]
            else:  # not aligned: keep the paragraphs that are not English text of the same page
                seen = set(en)
                own = [t for t in paras if t not in seen and not looks_english(t)]
            text = "\n\n".join(own)
            if len(text) >= MIN_DOC_CHARS:
                mdocs.append((safe_name(name), text))
            if sum(len(t) for _, t in pairs) >= MIN_DOC_CHARS:
                pdocs.append((safe_name(name), pairs))
        ml.multi[lang], ml.pairs[lang] = mdocs, pdocs
    # n-way: handbook paragraphs translated in every language (GNOME help has no Arabic)
    for name, en in sorted(en_pages.items()):
        if not name.startswith("handbook.") or any(len(pages[lg].get(name, [])) != len(en) for lg in langs):
            continue
        rows = [tuple(pages[lg][name][i] for lg in langs) for i in range(len(en))
                if all(pages[lg][name][i] != en[i] and not looks_english(pages[lg][name][i]) for lg in langs[1:])]
        if sum(len(r[0]) for r in rows) >= MIN_DOC_CHARS:
            ml.parallel.append((safe_name(name), rows))
    return ml


# ----------------------------------------------------------------------------------------------------------------
# Sampling, writing, manifest


def shuffled(items: list) -> list:
    """A fixed pseudo-random order (by sha256 of the document name), so a sample spreads over the whole source;
    documents of the multilingual sources (handbook., gnome., libreoffice.) take turns so each source is represented."""
    def source(name: str) -> str:
        m = re.match(r"(handbook|gnome|libreoffice)\.", name)
        return m.group(1) if m else ""

    groups: dict[str, list] = {}
    for it in sorted(items, key=lambda it: hashlib.sha256(it[0].encode()).hexdigest()):
        groups.setdefault(source(it[0]), []).append(it)
    ranked = [(i, g, it) for g, its in groups.items() for i, it in enumerate(its)]
    return [it for _, _, it in sorted(ranked, key=lambda r: (r[0], r[1]))]


def sample_docs(docs: list[tuple[str, str]], budget: int, per_doc: int, cutter=cut) -> list[tuple[str, str]]:
    """Documents in shuffled order, each cut to about per_doc bytes at a paragraph boundary, until the budget is used."""
    out, size = [], 0
    for name, text in shuffled(docs):
        text = clean_text(cutter(text, min(per_doc, budget - size)))
        if not text:
            continue
        out.append((name, text))
        size += len(text.encode())
        if size >= budget - 200:
            break
    return sorted(out)


def sample_rows(docs: list[tuple[str, list]], budget: int, per_doc: int) -> list[tuple[str, list]]:
    """Leading aligned paragraph rows of shuffled pages (all columns stay parallel), about per_doc bytes in the
    largest column; budget counts the largest column too."""
    out, size = [], 0
    for name, rows in shuffled(docs):
        keep, n = [], 0
        for row in rows:
            s = max(len(c.encode()) for c in row) + 2
            if keep and n + s > min(per_doc, budget - size):
                break
            keep.append(row)
            n += s
        if size + n > budget:
            continue
        out.append((name, keep))
        size += n
    return sorted(out)


def digest(docs: list[tuple[str, str]]) -> tuple[int, str]:
    h = hashlib.sha256()
    total = 0
    for _, text in sorted(docs):
        data = text.encode("utf-8")
        h.update(data)
        total += len(data)
    return total, h.hexdigest()


def corpus_digest(folder: Path) -> dict:
    """documents, bytes and sha256 of the concatenated .txt files of a folder in sorted file order."""
    files = sorted(p for p in folder.iterdir() if p.suffix == ".txt" and p.is_file())
    docs = [(p.name, p.read_text("utf-8")) for p in files]
    n, sha = digest(docs)
    return {"documents": len(docs), "bytes": n, "sha256": sha}


LICENCES = {
    "en-dict": "GPL-2.0-or-later (GCIDE)",
    "en-tech": "GPL-2.0-only (Linux kernel documentation)",
    "code-py": "PSF-2.0 (Python standard library)",
    "legal": "verbatim copying of licence texts permitted; copyright files under their packages' terms",
    "handbook": "GPL-2.0-or-later OR CC-BY-SA-3.0 (The Debian Administrator's Handbook)",
    "gnome": "CC-BY-SA-3.0 (GNOME help)",
    "libreoffice": "MPL-2.0 (LibreOffice help)",
}


@dataclass
class Corpus:
    name: str  # relative folder, e.g. "multi/tr"
    docs: list[tuple[str, str]]
    sources: list[dict]
    licence: str
    description: str
    extra: dict = field(default_factory=dict)


def build_all(full: bool) -> list[Corpus]:
    pk = {name: fetch(name) for name in PINS}
    # one LibreOffice help package is enough: they share the same copyright file
    legal_pk = [pk[n] for n in PINS if not n.startswith("libreoffice-help-") or n == "libreoffice-help-en-us"]
    legal_pk += [fetch(name) for name in LEGAL_PINS]
    out: list[Corpus] = []

    def add(name, docs, sources, licence, desc, budget=None, per_doc=None, cutter=cut, **extra):
        docs = [(n, clean_text(t)) for n, t in docs]
        docs = [(n, t) for n, t in docs if t]
        if not full:
            docs = sample_docs(docs, budget, per_doc, cutter)
        out.append(Corpus(name, docs, sources, licence, desc, extra))

    log("en-dict: GCIDE")
    add("en-dict", build_en_dict(pk["dict-gcide"]), [pk["dict-gcide"].ref()], LICENCES["en-dict"],
        "GNU Collaborative International Dictionary of English, markup stripped, entries grouped by initial letter",
        SAMPLE_BUDGET["en-dict"], 10_000)
    log("en-tech: kernel documentation")
    add("en-tech", build_en_tech(pk["linux-doc-6.1"]), [pk["linux-doc-6.1"].ref()], LICENCES["en-tech"],
        "Linux kernel documentation reStructuredText sources (English; translations/ excluded)",
        SAMPLE_BUDGET["en-tech"], 12_000)
    log("code-py: Python standard library")
    code, pysrc = build_code_py()
    add("code-py", code, [pysrc], LICENCES["code-py"],
        "Python standard library .py sources of the building interpreter (tests and site-packages excluded)",
        SAMPLE_BUDGET["code-py"], 6_000, cut_python)
    log("legal: licences and copyright files")
    add("legal", build_legal(legal_pk), [p.ref() for p in legal_pk], LICENCES["legal"],
        "base-files' common-licenses and the Debian copyright files of the packages used here",
        SAMPLE_BUDGET["legal"], 5_000)
    log("multi, pairs, parallel: Debian handbook, GNOME help, LibreOffice help")
    hb = pk["debian-handbook"]
    ml = build_multilingual(pk)
    ml_lic = f"{LICENCES['handbook']}; {LICENCES['gnome']}; {LICENCES['libreoffice']}"

    def ml_sources(lang: str) -> list[dict]:
        _, gloc, lloc = LANGS[lang]
        return ([hb.ref()] + ([pk["gnome-user-docs"].ref()] if gloc else [])
                + ([pk[f"libreoffice-help-{lloc.lower()}"].ref()] if lloc else []))

    def columns(docs: list[tuple[str, list]]) -> list[list[tuple[str, str]]]:
        """Aligned rows -> one document list per column."""
        width = len(docs[0][1][0]) if docs else 0
        return [[(n, clean_text("\n\n".join(r[k] for r in rows))) for n, rows in docs] for k in range(width)]

    for lang, docs in ml.multi.items():
        add(f"multi/{lang}", docs, ml_sources(lang), ml_lic,
            f"{lang}: Debian handbook, GNOME help and LibreOffice help as plain text; for languages other than English "
            "only the "
            "paragraphs that are actually translated", SAMPLE_BUDGET["multi"], 6_000, language=lang)
    for lang, docs in ml.pairs.items():
        if not full:
            docs = sample_rows(docs, SAMPLE_BUDGET["pairs"], 5_000)
        en_col, xx_col = columns(docs)
        for lg, col in (("en", en_col), (lang, xx_col)):
            out.append(Corpus(f"pairs/en-{lang}/{lg}", col, ml_sources(lang), ml_lic,
                              f"{lg} side of paragraph-aligned en/{lang} translation pairs (same file names on both "
                              "sides; only paragraphs actually translated)", {"language": lg, "group": f"en-{lang}"}))
    docs = ml.parallel if full else sample_rows(ml.parallel, SAMPLE_BUDGET["parallel"], 4_000)
    for lg, col in zip(LANGS, columns(docs)):
        out.append(Corpus(f"parallel/{lg}", col, [hb.ref()], LICENCES["handbook"],
                          f"{lg} side of the {len(LANGS)}-way parallel Debian handbook paragraphs translated in every "
                          "language (same file names in every language folder)", {"language": lg, "group": "parallel"}))
    return out


def write(corpora: list[Corpus], out: Path, full: bool) -> dict:
    """Write every corpus folder and MANIFEST.json; each top-level folder is replaced whole (old files never linger)."""
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=out))
    try:
        manifest = {"generator": "python tools/corpora_build.py" + (" --full" if full else ""),
                    "kind": "full" if full else "sample", "corpora": {}}
        for c in corpora:
            d = tmp / c.name
            d.mkdir(parents=True, exist_ok=True)
            for name, text in c.docs:
                if len(text.encode()) > MAX_DOC_BYTES:
                    raise BuildError(f"{c.name}/{name}: document above {MAX_DOC_BYTES} bytes")
                (d / name).write_text(text, "utf-8", newline="\n")
            manifest["corpora"][c.name] = {
                "path": c.name, "description": c.description, "sources": c.sources, "licence": c.licence,
                **c.extra, **corpus_digest(d),
            }
        (tmp / "MANIFEST.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=False) + "\n")
        for top in sorted({c.name.split("/")[0] for c in corpora}) + ["MANIFEST.json"]:
            dst = out / top
            if dst.is_dir():
                shutil.rmtree(dst)
            elif dst.exists():
                dst.unlink()
            os.replace(tmp / top, dst)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return manifest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python tools/corpora_build.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--full", action="store_true", help="build the full corpora (default: the small sample)")
    ap.add_argument("--out", type=Path, default=None, help="output folder (default: corpora/, or corpora/full with --full)")
    a = ap.parse_args(argv)
    out = a.out or (REPO / "corpora" / "full" if a.full else REPO / "corpora")
    try:
        manifest = write(build_all(a.full), out, a.full)
    except (BuildError, subprocess.CalledProcessError, OSError) as e:
        log(f"error: corpora build failed: {e}")
        return 1
    total = 0
    for name, m in manifest["corpora"].items():
        total += m["bytes"]
        log(f"{name:16s} {m['documents']:6d} docs {m['bytes']:>12,d} bytes")
    log(f"{'total':16s} {'':11s} {total:>12,d} bytes -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
