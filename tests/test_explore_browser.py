"""dks explore in a real browser: Playwright driving Debian's Chromium."""

import shutil
from pathlib import Path

import pytest

import dks
from dks.pipeline import characterize
from tests.pipeline_helpers import make_uneven_results

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
if not Path(CHROMIUM).exists():
    pytest.skip("chromium is not installed (apt-get install chromium)", allow_module_level=True)

SHOTS = Path(__file__).resolve().parent.parent / "docs" / "_static"


@pytest.mark.filterwarnings("ignore:1 class\\(es\\) have fewer:UserWarning")
def test_search_a_class_open_a_feature_see_its_histograms(tmp_path):
    out = make_uneven_results(tmp_path / "results", n_features=40, n_planted=3)
    characterize(out, shuffles=2, jobs=1, verbose=False, progress=False)
    handle = dks.explore(out, port=0)
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(handle.url)
            page.wait_for_selector("table.heat")
            page.screenshot(path=str(tmp_path / "explore_overview.png"), full_page=True)
            page.fill("#search", "doe")
            page.dispatch_event("#search", "change")
            page.wait_for_selector("h1:text('doe')")
            assert "#/class/doe" in page.url
            page.screenshot(path=str(tmp_path / "explore_class.png"), full_page=True)
            page.click("a[href^='#/feature/f9']")
            page.wait_for_selector("h1:text('f9')")
            page.select_option("select", "doe")
            page.wait_for_selector("#fig1 svg rect")
            assert page.locator("#fig1 svg").count() == 2
            page.screenshot(path=str(tmp_path / "explore_feature.png"), full_page=True)
            browser.close()
    finally:
        handle.stop()
    for name in ("overview", "class", "feature"):
        assert (tmp_path / f"explore_{name}.png").stat().st_size > 10_000
