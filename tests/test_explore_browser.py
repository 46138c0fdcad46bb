"""dks explore in a real browser: Playwright driving Debian's Chromium.

The screenshots go to a temporary folder, or to ``DKS_EXPLORE_SHOTS``; the docs' are of a
nested, unbalanced folder, made by ``python docs/screenshots.py`` (but ``explore_crops.png``).
"""

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import dks
from dks.pipeline import characterize
from tests.pipeline_helpers import UNEVEN, make_results, make_uneven_results

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
if not Path(CHROMIUM).exists():
    pytest.skip("chromium is not installed (apt-get install chromium)", allow_module_level=True)

EVIL = "<img src=x onerror=window.__pwned=1>"


def _images(out):
    """A small PNG per image row: a colour per class, brighter where f9 is higher."""
    from PIL import Image

    meta = json.loads((out / "embedding.json").read_text())
    X = np.load(out / "embedding.npy")
    rng = np.random.default_rng(0)
    hues = dict(
        zip(
            UNEVEN,
            [(200, 80, 60), (60, 140, 200), (90, 170, 90), (210, 160, 40), (150, 90, 180)],
            strict=True,
        )
    )
    for row, (rel, label) in enumerate(zip(meta["images"], meta["labels"], strict=True)):
        path = out / "images" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        gain = np.clip(0.55 + 0.12 * X[row, 9], 0.2, 1.0)
        pixels = np.asarray(hues[label]) * gain + rng.normal(0, 18, (48, 48, 3))
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path)


@pytest.fixture
def browser():
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.mark.filterwarnings("ignore:1 class\\(es\\) have fewer:UserWarning")
def test_search_a_class_open_a_feature_see_its_histograms(tmp_path, browser):
    shots = Path(os.environ.get("DKS_EXPLORE_SHOTS") or tmp_path)
    out = make_uneven_results(tmp_path / "results", n_features=40, n_planted=3)
    _images(out)
    characterize(out, shuffles=2, jobs=1, verbose=False, progress=False)
    handle = dks.explore(out, port=0)
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(handle.url)
        page.wait_for_selector(".heat a.name")
        assert page.locator(".heat a.name").all_inner_texts() == list(UNEVEN)
        page.screenshot(path=str(shots / "explore_overview.png"), full_page=True)
        page.fill("#search", "doe")
        page.dispatch_event("#search", "change")
        page.wait_for_selector("h1:text('doe')")
        assert "#/class/doe" in page.url
        page.screenshot(path=str(shots / "explore_class.png"), full_page=True)
        page.click("a[href^='#/feature/f9']")
        page.wait_for_selector("h1:text('f9')")
        page.select_option("select", "doe")
        page.wait_for_selector("#fig1 svg rect")
        assert page.locator("#fig1 svg").count() == 2
        assert page.locator(".images img").count() == 12  # the images are served
        # no model to run again (a synthetic folder): one line says why
        page.wait_for_function(
            "document.querySelector('.crops').innerText.startsWith('No receptive-field crops')"
        )
        page.wait_for_function("[...document.images].every((i) => i.complete && i.naturalWidth)")
        page.screenshot(path=str(shots / "explore_feature.png"), full_page=True)
        shared = page.url  # the same view from its URL alone, in another tab
        other = browser.new_page(viewport={"width": 1280, "height": 900})
        other.goto(shared)
        other.wait_for_selector("#fig1 svg rect")
        assert other.locator("h1").inner_text() == "f9"
        other.goto(handle.url + "#/pair/doe/elk")
        other.wait_for_selector("h1:text('doe vs elk')")
        other.screenshot(path=str(shots / "explore_pair.png"), full_page=True)
    finally:
        handle.stop()
    for name in ("overview", "class", "feature", "pair"):
        assert (shots / f"explore_{name}.png").stat().st_size > 10_000


@pytest.mark.torch
@pytest.mark.filterwarnings("ignore:.*random:UserWarning")
def test_a_feature_shows_its_receptive_field_crops(tmp_path, browser):
    pytest.importorskip("torch")
    from tests.explore_helpers import real_results

    shots = Path(os.environ.get("DKS_EXPLORE_SHOTS") or tmp_path)
    out = real_results(tmp_path)
    res = dks.load_results(out)
    j = int(np.argmax(res["dks"].max(axis=0)))
    cls = res["embedding_meta"]["classes"][int(np.argmax(res["dks"][:, j]))]
    name = res["embedding_meta"]["feature_names"][j]
    handle = dks.explore(out, port=0)
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{handle.url}#/feature/{name}/{cls}")
        page.wait_for_selector("#fig1 svg")
        page.wait_for_selector(".crops[data-sign='presence'] img", timeout=120_000)
        assert page.locator(".crops[data-sign='presence'] img").count() == 12
        page.wait_for_function("[...document.images].every((i) => i.complete && i.naturalWidth)")
        assert "receptive field" in page.locator(".crops").first.inner_text()
        assert page.locator(".noimg").count() == 0  # images outside the folder: crops instead
        page.screenshot(path=str(shots / "explore_crops.png"), full_page=True)
    finally:
        handle.stop()
    assert (shots / "explore_crops.png").stat().st_size > 10_000


def test_names_are_shown_as_text(tmp_path, browser):
    out = make_results(tmp_path / "results")
    meta = json.loads((out / "embedding.json").read_text())
    meta["classes"] = sorted(["cat", "dog", EVIL])
    meta["labels"] = [EVIL if c == "eel" else c for c in meta["labels"]]
    meta["feature_names"][0] = EVIL + "f"
    (out / "embedding.json").write_text(json.dumps(meta))
    characterize(out, shuffles=2, jobs=1, verbose=False, progress=False)
    handle = dks.explore(out, port=0)
    try:
        page = browser.new_page()
        page.goto(handle.url)
        page.wait_for_selector(".heat a.name")
        assert EVIL in page.locator(".heat").inner_text()
        for view in ["#/class/" + EVIL, "#/feature/" + EVIL + "f/" + EVIL, "#/pair/cat/" + EVIL]:
            page.goto(handle.url + view.replace("<", "%3C").replace(">", "%3E"))
            page.wait_for_selector("h1")
            page.wait_for_timeout(200)
            assert EVIL in page.locator("main").inner_text(), view
        assert page.locator("main img[src='x']").count() == 0
        assert page.evaluate("window.__pwned") is None
    finally:
        handle.stop()


def test_class_view_says_how_stable_the_verdict_is(tmp_path, browser):
    from dks.pipeline import validate

    out = make_results(tmp_path / "results")
    characterize(out, shuffles=2, jobs=1, verbose=False, progress=False)
    handle = dks.explore(out, port=0)
    try:
        page = browser.new_page()
        page.goto(handle.url + "#/class/cat")
        page.wait_for_selector("#stability")
        assert "not measured (run dks validate" in page.locator("#stability").inner_text()
    finally:
        handle.stop()
    validate(out, k=(1, 2), splits=2, bootstrap=0, jobs=1, verbose=False)
    row = dks.load_results(out)["stability"]
    (i,) = np.flatnonzero(row["name"] == "cat")
    handle = dks.explore(out, port=0)
    try:
        page = browser.new_page()
        page.goto(handle.url + "#/class/cat")
        page.wait_for_selector("#stability b")
        text = page.locator("#stability").inner_text()
        assert text.startswith("How stable is this verdict? Jaccard ")
        assert f"chance {row['jaccard_chance'][i]:.3f}" in text
        assert "between two halves of 6 images" in text and "Ablation: replacing its 1 " in text
    finally:
        handle.stop()


@pytest.mark.filterwarnings("ignore:1 class\\(es\\) have fewer:UserWarning")
def test_explorer_and_report_agree_and_export(tmp_path, browser):
    """One class's noise share and the colours of the two signs are the same in the report
    and in the explorer; the CSV, SVG and PNG exports download what the page shows; tables
    sort; filters survive Back; a search that finds nothing says so; a stray % is harmless."""
    import csv

    from dks.pipeline import report

    pytest.importorskip("matplotlib")
    out = make_uneven_results(tmp_path / "results", n_features=40, n_planted=3)
    characterize(out, shuffles=2, jobs=1, verbose=False, progress=False)
    report(out, verbose=False)
    with open(out / "class_noise.csv", newline="") as fh:
        noise = {r["class"]: r for r in csv.DictReader(fh)}
    name = next(c for c, r in noise.items() if r["mostly_noise"] == "1")  # flagged in both
    expected = f"{100 * float(noise[name]['noise_share']):.1f}%"
    handle = dks.explore(out, port=0)
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
        page.goto(handle.url + "files/report.html")
        row = page.locator("#class-noise table").first.locator(f"tr:has(td:text-is('{name}'))")
        report_share = row.locator("td").nth(4).inner_text()
        colors = (
            "['pos', 'neg'].map((c) => { const e = document.createElement('span'); "
            "e.className = c; document.body.append(e); return getComputedStyle(e).color; })"
        )
        report_colors = page.evaluate(colors)
        page.goto(f"{handle.url}#/class/{name}")
        page.wait_for_selector("#noise-share .value")
        assert page.locator("#noise-share .value").inner_text() == report_share == expected
        assert "Mostly noise" in page.locator("#noise-share").inner_text()
        assert page.evaluate(colors) == report_colors
        assert report_colors[0] != report_colors[1]

        # CSV of the ranked features, in the order shown, against numpy
        res = dks.load_results(out)
        c = res["embedding_meta"]["classes"].index(name)
        row_dks = res["dks"][c]
        t_plus, t_minus = res["thresholds"]["t_plus"], res["thresholds"]["t_minus"]
        kept = np.flatnonzero((row_dks > t_plus) | (row_dks < t_minus))
        kept = kept[np.argsort(-np.abs(row_dks[kept]), kind="stable")]
        with page.expect_download() as download:
            page.click("button.export:text('CSV')")
        rows = list(csv.reader(Path(download.value.path()).read_text("utf-8").splitlines()))
        assert rows[0] == ["feature", "layer", "dks", "kept_by"]
        names = res["embedding_meta"]["feature_names"]
        assert [r[0] for r in rows[1:]] == [names[j] for j in kept]
        np.testing.assert_allclose([float(r[2]) for r in rows[1:]], row_dks[kept], atol=1e-4)
        with page.expect_download() as download:
            page.click(".chart button:text('SVG')")
        assert Path(download.value.path()).read_text("utf-8").startswith("<svg")
        with page.expect_download() as download:
            page.click(".chart button:text('PNG')")
        assert Path(download.value.path()).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

        # a filter survives a visit to a feature and Back; sorting by a column
        page.select_option("select[name='sign']", "negative")
        assert "sign=negative" in page.url
        first = page.locator("main table a").first.inner_text()
        page.click(f"main table a:text-is('{first}')")
        page.wait_for_selector("#across ~ div table")
        across = "#across ~ div table td.num:nth-child(2)"  # the D_KS column
        values = [float(v) for v in page.locator(across).all_inner_texts()]
        assert values == sorted(values, reverse=True)  # D_KS, highest first
        page.click("#across ~ div th:text('D_KS')")
        values = [float(v) for v in page.locator(across).all_inner_texts()]
        assert values == sorted(values)
        marks = page.locator("#across ~ div table td:nth-child(5)").all_inner_texts()
        assert any(m.startswith("t") for m in marks)  # what passes t+ / t- is marked
        page.go_back()
        page.wait_for_selector("#noise-share")
        assert page.locator("select[name='sign']").input_value() == "negative"

        # the two-class view: every feature, a plot, and its CSV
        other = next(x for x in noise if x != name)
        page.goto(f"{handle.url}#/pair/{name}/{other}")
        page.wait_for_selector(".chart svg circle")
        with page.expect_download() as download:
            page.click("button.export:text('CSV')")
        rows = list(csv.reader(Path(download.value.path()).read_text("utf-8").splitlines()))
        assert len(rows) == 1 + len(names)

        # a search that finds nothing says so; a lone % in the URL is no crash
        page.fill("#search", "no-such-name-at-all")
        page.dispatch_event("#search", "change")
        assert "No class or feature matches" in page.locator("#search-said").inner_text()
        page.goto(handle.url + "#/class/100%")
        page.wait_for_selector("main .error")
        assert "no class named '100%'" in page.locator("main").inner_text()
    finally:
        handle.stop()
