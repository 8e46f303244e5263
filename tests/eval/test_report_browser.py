"""The HTML report as a person sees it: rendered by real headless Chromium (Debian's chromium, `make setup`)."""
from __future__ import annotations

import io
import json

import numpy as np
import pytest
import regex

from tokbench.eval import report, run
from tokbench.eval.browser import Browser, layout

from .conftest import FLORES

WIDTH = 1400


@pytest.fixture(scope="module")
def small_report(tmp_path_factory, gpt2_json):
    """A real eval, kept small: 4 tokenizers (two sizes of one BPE family) x code, English text and a parallel set."""
    from tokenizers import Tokenizer, models, pre_tokenizers, decoders, trainers

    from tokbench.corpus import Corpus, bundled

    root = tmp_path_factory.mktemp("report")
    lines = (FLORES / "eng_Latn.dev").read_text(encoding="utf-8").splitlines()
    tr = (FLORES / "tur_Latn.dev").read_text(encoding="utf-8").splitlines()
    par = root / "par"
    par.mkdir()
    (par / "eng_Latn.dev").write_text("\n".join(lines[:40]) + "\n", encoding="utf-8")
    (par / "tur_Latn.dev").write_text("\n".join(tr[:40]) + "\n", encoding="utf-8")
    code = root / "code"
    code.mkdir()
    for k, doc in enumerate(list(Corpus([str(bundled("code-py"))]).documents())[:3]):
        (code / f"{k}.py").write_text(doc, encoding="utf-8")
    toks = []
    for size in (300, 600):  # a family for the bytes/token-vs-|V| curve, trained by HF tokenizers itself
        t = Tokenizer(models.BPE())
        t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        t.decoder = decoders.ByteLevel()
        t.train_from_iterator(lines[40:400], trainers.BpeTrainer(vocab_size=size, show_progress=False,
                                                               initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
        path = root / f"bpe-{size}.json"
        t.save(str(path))
        toks.append(str(path))
    ev = run.Evaluation([*toks, str(gpt2_json), "cl100k_base"], [f"{code}", f"{par / 'eng_Latn.dev'}:en"],
                        parallel=[par])
    out = report.write_report(root / "out", ev.records, ev.length_hist, vocab_curves=ev.vocab_curves())
    return out, ev.records


def test_report_is_self_contained(small_report):
    out, records = small_report
    page = (out / "index.html").read_text(encoding="utf-8")
    assert not regex.search(r"""(?:src|href)\s*=\s*['"](?!data:|#)""", page)  # nothing fetched: data: or #anchors
    assert "<link" not in page and "<script src" not in page
    assert page.count("data:image/png;base64,") >= 7
    # nulls are "n/a" and never blank cells
    assert ">n/a</td>" in page and not regex.search(r"<td[^>]*></td>", page)


def test_report_in_headless_chromium(small_report, tmp_path):
    out, records = small_report
    with Browser(width=WIDTH, height=900) as page:
        page.open(out / "index.html")
        facts = layout(page)
        shot = page.screenshot(tmp_path / "shot.png")

        # the screenshot shows something: a page of text and colour, not a blank sheet
        from PIL import Image

        img = np.asarray(Image.open(io.BytesIO(shot)).convert("L"), dtype=np.float64)
        assert img.shape[1] == WIDTH and img.shape[0] > 1200  # the whole page, not only the viewport
        assert (img < 200).mean() > 0.05 and img.std() > 30

        # every figure loaded, at most 3x as wide as high, at least 250 px high; no sideways scrolling at 1400 px
        titles = [f["title"] for f in facts["figures"]]
        for want in ("UTF-8 bytes per token", "fertility (tokens per word)", "tokenization premium",
                     "token lengths", "vocabulary utilisation", "bytes/token vs |V|"):
            assert want in titles, titles
        assert any(t.startswith("%TR and %Pure") for t in titles)
        for f in facts["figures"]:
            assert f["loaded"], f
            assert f["height"] >= 250 and f["width"] / f["height"] <= 3.0, f
        assert facts["scrollWidth"] <= facts["clientWidth"] and facts["clientWidth"] >= WIDTH - 20  # - scrollbar

        # a real click on a header sorts every corpus group by that column; a second click reverses it
        col = "bytes_per_token"
        header = page.evaluate(f"""(() => {{ const th = document.querySelector("#metrics th[data-key='{col}']");
            th.scrollIntoView({{block: 'center'}}); const r = th.getBoundingClientRect();
            return {{x: r.x + r.width / 2, y: r.y + r.height / 2,
                    index: [...th.parentNode.children].indexOf(th)}}; }})()""")
        read = f"""[...document.querySelectorAll('#metrics tbody')].map(tb =>
            [...tb.querySelectorAll('tr.row')].map(r => [r.cells[0].textContent,
                                                        parseFloat(r.cells[{header['index']}].dataset.v)]))"""
        before = page.evaluate(read)
        page.click(header["x"], header["y"])
        asc = page.evaluate(read)
        assert page.evaluate(f"document.querySelector(\"#metrics th[data-key='{col}']\").getAttribute('aria-sort')") \
            == "ascending"
        page.click(header["x"], header["y"])
        desc = page.evaluate(read)

    expected: dict[str, list[float]] = {}
    for r in records:
        expected.setdefault(r["corpus"], []).append(r[col])
    want = list(expected.values())

    def values(groups):
        return [[v for _, v in g] for g in groups]

    assert values(before) == want  # data-v holds the exact value (repr), so the order is comparable exactly
    assert values(asc) == [sorted(v) for v in want]
    assert values(desc) == [sorted(v, reverse=True) for v in want]
    assert any(v != sorted(v) for v in want)  # the click changed something
