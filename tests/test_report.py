"""Tests of dks.report: one self-contained, escaped, offline HTML file."""

import ast
import base64
import html
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from dks import report
from dks.report import FIGURE_TEXT, write_report

VOID = {"meta", "img", "br", "hr", "link", "input", "col", "source", "wbr"}


class TagChecker(HTMLParser):
    """Records every tag and attribute, and checks that tags are properly nested."""

    def __init__(self):
        super().__init__()
        self.stack, self.errors, self.attrs = [], [], []

    def handle_starttag(self, tag, attrs):
        self.attrs += [(tag, k, v) for k, v in attrs]
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> with open {self.stack[-3:]}")
        else:
            self.stack.pop()


def parse(text):
    checker = TagChecker()
    checker.feed(text)
    checker.close()
    assert checker.errors == []
    assert checker.stack == []
    return checker


def full_summary():
    return {
        "dataset": "fashion <mnist>",
        "model": "efficientnet_lite0",
        "n_images": np.int64(600),
        "n_classes": 3,
        "n_features": 1280,
        "n_shuffles": 5,
        "bins": 100,
        "wall_time_s": 185.25,
        "created": "2024-05-01 12:00",
        "parameters": {"crops": "ten", "device": "cpu & more"},
        "t_plus": np.float64(0.1234),
        "t_minus": -0.117,
        "d_avg_t_plus": 2742.4,
        "d_avg_t_minus": np.float32(3027.0),
        "n_pairs": 3840,
        "n_pairs_plus": 1920,
        "n_pairs_minus": 960,
        "n_noise_features_plus": 40,
        "n_noise_features_minus": 900,
        "noise_features": ["fc7_1", "fc7_<script>"],
        "layers": [
            {"name": "conv1_1", "n_features": 64, "kept": 0.8, "kept_null": 0.05},
            {"name": "fc7", "n_features": 4096, "kept": 0.31, "kept_null": 0.02},
        ],
        "classes": [
            {
                "name": "T-shirt/top",
                "n_images": 200,
                "n_plus": 120,
                "n_minus": 30,
                "top_presence": [["conv1_1_3", 0.81], ("fc7_2", np.float64(0.7))],
                "top_absence": [{"feature": "conv2_1_1", "dks": -0.52}],
            },
            {
                "name": "Bag & <Sandal>",
                "n_plus": 5,
                "top_presence": ["fc7_9"],
                "top_absence": [],
            },
        ],
    }


@pytest.fixture
def figure():
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2, 1.5))
    fig.add_subplot().plot([0, 1], [1, 0])
    return fig


@pytest.fixture
def png_file(tmp_path, figure):
    path = tmp_path / "given.png"
    figure.savefig(path, format="png", dpi=30)
    return path


def test_full_report(tmp_path, figure, png_file):
    out = write_report(
        tmp_path / "report.html",
        full_summary(),
        {
            "layer_distribution": figure,
            "class_curves": png_file,
            "feature_histograms_fc7_12": (figure, "My <own> caption"),
        },
        title="Analysis of <data>",
    )
    assert out == tmp_path / "report.html"
    text = out.read_text(encoding="utf-8")
    checker = parse(text)

    # thresholds and d_avg (Table 4), and the paper's rows for comparison
    for value in ("0.123", "-0.117", "2,742.4", "3,027.0", "0.183", "-0.165"):
        assert f">{value}<" in text
    # counts with shares, per-layer shares, per-class tops
    assert "1,920 (50.0%)" in text and "960 (25.0%)" in text
    assert ">80.0%<" in text and ">31.0%<" in text and ">2.0%<" in text
    assert 'conv1_1_3</span> <span class="pos">(+0.810)' in text
    assert 'conv2_1_1</span> <span class="neg">(-0.520)' in text
    assert ">3 min 5 s<" in text and ">600<" in text
    assert "from the start of the call to this report" in text  # what the time covers

    # every text from the summary is escaped
    assert "Bag &amp; &lt;Sandal&gt;" in text and "<Sandal>" not in text
    assert "fashion &lt;mnist&gt;" in text and "Analysis of &lt;data&gt;" in text
    assert "fc7_&lt;script&gt;" in text and "<script" not in text
    assert "cpu &amp; more" in text
    assert "My &lt;own&gt; caption" in text

    # one embedded PNG per figure, nothing external
    images = [v for tag, k, v in checker.attrs if tag == "img" and k == "src"]
    assert len(images) == 3
    assert text.count('<img src="data:image/png;base64,') == 3
    for src in images:
        data = base64.b64decode(src.split(",", 1)[1], validate=True)
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert base64.b64decode(images[1].split(",", 1)[1]) == png_file.read_bytes()
    # nothing loaded from the network; the one external link is the paper's, to click
    paper = "https://arxiv.org/abs/1703.01127"
    assert "http" not in text.lower().replace(paper, "")
    links = [(tag, v) for tag, k, v in checker.attrs if k in ("href", "src") and tag != "img"]
    assert all(v.startswith("#") or (tag, v) == ("a", paper) for tag, v in links)
    anchors = {v for tag, k, v in checker.attrs if k == "id"}
    assert {v[1:] for _, v in links if v.startswith("#")} <= anchors  # every link lands
    assert not [tag for tag, _, _ in checker.attrs if tag in ("script", "link", "iframe")]
    assert "<script" not in text and "url(" not in text

    # default captions for known keys, custom caption kept, suffix of a known key in the title
    assert "68% of that side" in text
    assert html.escape(FIGURE_TEXT["class_curves"][0]) in text
    assert "Fig. 1): fc7_12" in text
    # the schema's derived counts: noise features = len(noise_features)
    assert re.search(
        r"Features that are noise for every class</a> \(t<sup>\+</sup> and t<sup>−</sup>\)</td>"
        r'<td class="num">2<',
        text,
    )
    # the atomic write left only the report behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["given.png", "report.html"]


def test_sections_follow_the_summary(tmp_path):
    text = write_report(tmp_path / "r.html", {}, paper_reference=False).read_text()
    parse(text)
    assert 'id="reading"' in text
    for section in ("run", "thresholds", "layers", "noise", "classes", "figures"):
        assert f'id="{section}"' not in text
    text = write_report(
        tmp_path / "r.html",
        {"t_plus": 0.2, "noise_features": [], "classes": [{"name": "a"}]},
        paper_reference=False,
    ).read_text()
    parse(text)
    assert ">0.200<" in text and ">–<" in text  # t_minus missing
    assert "mit67" not in text
    assert "None: every feature" in text
    assert 'id="classes"' in text and 'id="layers"' not in text


def test_a_thousand_classes_scroll_in_a_box(tmp_path):
    from dks.report._kit import SCROLL_ROWS

    few = full_summary()
    text = write_report(tmp_path / "few.html", few).read_text()
    assert 'class="scroll"' not in text
    many = full_summary()
    many["classes"] = [
        {"name": f"n{i:08d}", "n_images": 1300, "n_plus": 3, "top_presence": [["f", 0.5]]}
        for i in range(1000)
    ]
    text = write_report(tmp_path / "many.html", many).read_text()
    box = text.split('<section id="classes">', 1)[1].split("</section>", 1)[0]
    assert "1,000 classes; the table scrolls" in box
    assert box.count('<div class="scroll">') == 1 and box.count("<tr>") == 1001
    assert ".scroll thead th { position: sticky" in text
    assert SCROLL_ROWS < 1000


def test_long_noise_list_is_truncated(tmp_path):
    names = [f"fc7_{i}" for i in range(30)]
    text = write_report(tmp_path / "r.html", {"noise_features": names}, max_listed=10).read_text()
    assert "30 features have no" in text
    assert "fc7_9<" in text and "fc7_10<" not in text
    assert "… and 20 more" in text


def test_bad_figures_leave_no_file(tmp_path):
    not_png = tmp_path / "fig.svg"
    not_png.write_text("<svg/>")
    with pytest.raises(ValueError, match="not a PNG"):
        write_report(tmp_path / "out" / "report.html", {}, {"x": not_png})
    with pytest.raises(TypeError, match="matplotlib Figure or the path"):
        write_report(tmp_path / "out" / "report.html", {}, {"x": 42})

    class Broken:
        def savefig(self, *args, **kwargs):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        write_report(tmp_path / "out" / "report.html", {}, {"x": Broken()})
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
    with pytest.raises(TypeError, match="summary"):
        write_report(tmp_path / "r.html", [("t_plus", 0.1)])


def test_report_overwrites_and_needs_no_matplotlib_at_import(tmp_path, png_file):
    target = tmp_path / "report.html"
    target.write_text("old")
    write_report(target, {"t_plus": 0.15}, {"davg": png_file})
    assert target.read_text().startswith("<!DOCTYPE html>")
    tree = ast.parse(Path(report.__file__).read_text(encoding="utf-8"))
    imported = [n.module for n in tree.body if isinstance(n, ast.ImportFrom)]
    imported += [a.name for n in tree.body if isinstance(n, ast.Import) for a in n.names]
    assert not [m for m in imported if m and m.startswith("matplotlib")]


def test_layers_as_columns_from_the_selector(tmp_path):
    """``NoiseThresholdSelector.layer_summary()`` output (a dict of columns) is accepted."""
    layers = {
        "group": np.array(["conv1_1", "fc7"], dtype=object),
        "n_features": np.array([64, 4096]),
        "kept": np.array([0.75, 0.25]),
        "kept_presence": np.array([0.5, 0.2]),
        "kept_absence": np.array([0.25, 0.05]),
        "kept_shuffled": np.array([np.nan, np.nan]),
        "n_noise": np.array([0, 37]),
    }
    summary = {"layers": layers, "classes": [{"name": "a", "n_presence": 7, "n_absence": 2}]}
    text = write_report(tmp_path / "r.html", summary).read_text()
    parse(text)
    assert ">conv1_1<" in text and ">fc7<" in text and ">4,096<" in text
    assert ">75.0%<" in text and ">5.0%<" in text and ">37<" in text
    assert "Kept, shuffled labels</th>" in text and "nan" not in text.lower()
    assert ">7<" in text and ">2<" in text


def test_skipped_images_section(tmp_path):
    assert 'id="skipped"' not in write_report(tmp_path / "r.html", {"n_skipped": 0}).read_text()
    rows = [{"path": "/data/<b>.jpg", "class": "cat", "reason": "empty file"}]
    text = write_report(tmp_path / "r.html", {"n_skipped": 3, "skipped": rows}).read_text()
    parse(text)
    assert 'id="skipped"' in text and "3 image(s) could not be read" in text
    assert "The first 1 are listed" in text and "skipped.csv" in text
    assert "/data/&lt;b&gt;.jpg" in text and "empty file" in text
    assert "not read as images" not in text


def test_files_not_read_as_images_section(tmp_path):
    none = {"n_not_images": 0, "not_images": []}
    assert 'id="skipped"' not in write_report(tmp_path / "r.html", none).read_text()
    summary = {"n_not_images": 3, "not_images": ["cat/<notes>.txt", "dog/logo.svg"]}
    text = write_report(tmp_path / "r.html", summary).read_text()
    parse(text)
    assert 'id="skipped"' in text and 'id="not-images"' in text
    assert "3 file(s) in the class folders are not read as images" in text
    assert "the first 2, relative to the image folder" in text
    assert "<code>cat/&lt;notes&gt;.txt</code>" in text and "<code>dog/logo.svg</code>" in text
    assert "could not be read and were left out of the analysis" not in text  # no image skipped
    every = write_report(tmp_path / "r.html", {**summary, "n_not_images": 2}).read_text()
    assert "all of them, relative to the image folder" in every


def test_the_run_section_tells_how_to_open_the_explorer(tmp_path):
    text = write_report(tmp_path / "r.html", {"n_images": 10}, paper_reference=False).read_text()
    parse(text)
    note = re.search(r'<p class="note" id="explore">(.*?)</p>', text, re.S)
    assert note and "<code>dks explore RESULTS_DIR</code>" in note.group(1)
    assert text.index('id="run"') < text.index('id="explore"') < text.index('id="reading"')


def test_the_dataset_name_heads_the_page_and_the_thresholds(tmp_path):
    summary = {
        "dataset_name": "digits",
        "dataset": "/data/digits.csv (at most 3 per class, seed 0)",
        "source": "manifest",
        "t_plus": 0.2,
        "t_minus": -0.2,
    }
    text = write_report(tmp_path / "r.html", summary, paper_reference=False).read_text()
    assert "<td>digits</td>" in text  # the thresholds table's first column, and the Run table
    assert "/data/digits.csv (at most 3 per class, seed 0)" in text and "manifest" in text
