"""Screenshots of the report and of each explorer view, for the docs (docs/_static/*.png).

On a nested, unbalanced folder: 319 Fashion-MNIST test images (Debian's offline copy) in 10
classes three folders deep, 6 to 60 images each, with two files that are not images, analyzed
with ``--class-depth 3`` and the offline EfficientNet-Lite0 (centre crop, small sizes: about
two minutes on two CPU cores). Then Playwright drives Debian's Chromium over the report and
the explorer. Run from the project root::

    python docs/screenshots.py [WORK_DIR]

The PNGs are reduced to a 128-colour palette, so that each stays small.
"""

import shutil
import sys
from pathlib import Path
from urllib.parse import quote

import numpy as np
from PIL import Image

#: Fashion-MNIST class -> (folder, images kept): nested three deep, uneven.
LAYOUT = {
    "T-shirt/top": ("clothing/tops/t-shirt", 60),
    "Pullover": ("clothing/tops/pullover", 40),
    "Shirt": ("clothing/tops/shirt", 8),
    "Coat": ("clothing/outer/coat", 30),
    "Trouser": ("clothing/bottoms/trouser", 50),
    "Dress": ("clothing/dress", 25),
    "Sandal": ("footwear/summer/sandal", 6),
    "Sneaker": ("footwear/sport/sneaker", 45),
    "Ankle boot": ("footwear/winter/ankle-boot", 35),
    "Bag": ("accessories/bag", 20),
}
STATIC = Path(__file__).resolve().parent / "_static"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def make_folder(root):
    """The nested, unbalanced folder (and two files that are not images)."""
    from dks.datasets import load_fashion_mnist

    images, y, names = load_fashion_mnist("test", n_per_class=60, random_state=0)
    for k, name in enumerate(names):
        folder, n = LAYOUT[name]
        out = root / folder
        out.mkdir(parents=True, exist_ok=True)
        for i, row in enumerate(np.flatnonzero(y == k)[:n]):
            Image.fromarray(images[row]).resize((56, 56)).save(out / f"{i:03d}.png")
    (root / "footwear" / "summer" / "logo.svg").write_text("<svg/>")
    (root / "accessories" / "README.txt").write_text("bags")


def small(path):
    """The PNG at ``path`` reduced to a 128-colour palette."""
    image = Image.open(path).convert("RGB").quantize(128, method=Image.Quantize.MEDIANCUT)
    image.save(path, optimize=True)


def shoot(results):
    from playwright.sync_api import sync_playwright

    import dks

    def view(*parts):  # a class name holds "/": one part of the URL, escaped
        return "#/" + "/".join(quote(p, safe="") for p in parts)

    noisy = "footwear/summer/sandal"  # 6 images: mostly noise with the global thresholds
    handle = dks.explore(results, port=0)
    shots = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1200, "height": 1000})

            def shot(name, clip_height=None, full=False):
                path = STATIC / f"{name}.png"
                page.wait_for_timeout(300)
                if full:
                    page.screenshot(path=str(path), full_page=True)
                else:
                    page.screenshot(
                        path=str(path),
                        clip={"x": 0, "y": 0, "width": 1200, "height": clip_height or 1000},
                    )
                small(path)
                shots.append(path)

            page.goto(handle.url + "files/report.html")
            shot("report_glance", 1250)
            page.goto(handle.url + "files/report.html#classes")
            page.evaluate("document.getElementById('classes').scrollIntoView()")
            page.screenshot(path=str(STATIC / "report_classes.png"))
            small(STATIC / "report_classes.png")
            shots.append(STATIC / "report_classes.png")
            page.goto(handle.url)
            page.wait_for_selector(".heat a.name")
            shot("explore_overview", full=True)
            page.goto(handle.url + view("class", noisy))
            page.wait_for_selector("#noise-share")
            shot("explore_class", 1000)
            page.goto(handle.url + view("class", "footwear/sport/sneaker"))
            page.wait_for_selector("main table a")
            feature = page.locator("main table a").first.inner_text()
            page.goto(handle.url + view("feature", feature, "footwear/sport/sneaker"))
            page.wait_for_selector("#fig1 svg rect")
            page.wait_for_selector(".crops[data-sign='presence'] img", timeout=300_000)
            page.wait_for_function("[...document.images].every((i) => i.complete)")
            shot("explore_feature", full=True)
            pair = ("footwear/sport/sneaker", "footwear/winter/ankle-boot")
            page.goto(handle.url + view("pair", *pair))
            page.wait_for_selector(".chart svg circle")
            shot("explore_pair", 1000)
            browser.close()
    finally:
        handle.stop()
    return shots


def main(work):
    from dks.pipeline import analyze

    work = Path(work)
    folder, results = work / "fashion_nested", work / "fashion_nested_results"
    if not folder.is_dir():
        make_folder(folder)
    if not (results / "report.html").is_file():
        analyze(
            folder, out=results, class_depth=3, model="efficientnet_lite0", crops="center",
            resize=64, crop_size=56, batch_size=16, workers=0, progress=False,
        )  # fmt: skip
    for path in shoot(results):
        print(f"{path} ({path.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "screenshots_work")
