"""The report's first and last words: the headline (signal against chance) and the glossary.

:func:`glance_section` opens the report with what the thresholds keep beside what they keep
with shuffled labels, the classes that are mostly noise and, for classes of uneven sizes, what
per-class thresholds would keep. :func:`glossary_section` closes it with the words it uses,
each with an anchor (``#g-<word>``) that the sections link to with :func:`term`; the words are
those of the docs' glossary (``docs/glossary.rst``), which has the longer definitions.
"""

from __future__ import annotations

from dks import _config
from dks.report._kit import escape, fmt_share, is_number

__all__ = ["PAPER", "glance_section", "glossary_section", "term"]

#: The paper, linked wherever the report cites its equations, figures and tables.
PAPER = (
    '<a href="https://arxiv.org/abs/1703.01127">Garcia-Gasulla et al., <i>On the Behavior of '
    "Convolutional Nets for Feature Extraction</i> (arXiv:1703.01127)</a>"
)

#: (anchor, word, definition as HTML), in the order listed.
GLOSSARY = (
    (
        "dks",
        "D<sub>KS</sub>",
        "For a feature and a class: the signed Kolmogorov–Smirnov distance between the "
        "feature's values on the class's images and on all the other images, in [−1, 1]. "
        '<span class="pos">Positive</span>: higher on the class (<b>presence</b>); '
        '<span class="neg">negative</span>: lower on the class (<b>absence</b>).',
    ),
    (
        "thresholds",
        "t<sup>+</sup>, t<sup>−</sup> (noise thresholds)",
        "A (feature, class) pair is <i>kept</i> when D<sub>KS</sub> &gt; t<sup>+</sup> or "
        "D<sub>KS</sub> &lt; t<sup>−</sup>; the pairs in between are treated as noise. Set by "
        "comparing the data with itself under shuffled labels.",
    ),
    (
        "davg",
        "d<sub>avg</sub> (the paper's Eq. 4)",
        "At each x: the mean <b>number of features</b> per class beyond x with the true labels "
        "minus the same with shuffled labels (a count, not a D<sub>KS</sub>). The paper's "
        "thresholds are where it peaks.",
    ),
    (
        "kept",
        "kept, kept with shuffled labels",
        "The share of (feature, class) pairs beyond the thresholds, chance included; the same "
        "under a shuffled labeling, which is what chance alone keeps.",
    ),
    (
        "noise-share",
        "noise share",
        "Of a class: kept with shuffled labels divided by kept with the true labels, the "
        "expected share of noise among the class's kept pairs (above 100% when chance keeps "
        "more). The only meaning of the words in dks: the explorer, <code>class_noise.csv</code> "
        "and this report give the same number.",
    ),
    (
        "mostly-noise",
        "mostly noise",
        f"A class whose noise share is above {100 * _config.MOSTLY_NOISE:.0f}%, or that keeps "
        "nothing while chance keeps some: its top features are more likely chance than "
        "signal. Left out of the example figures and marked in the tables.",
    ),
    (
        "noise-features",
        "features that are noise for every class",
        "Features with no D<sub>KS</sub> beyond t<sup>+</sup> or t<sup>−</sup> for any class.",
    ),
    (
        "feature-name",
        "feature names",
        "<code>&lt;layer&gt;_&lt;channel&gt;</code>: <code>blocks.12_148</code> is channel 148 "
        "of the layer <code>blocks.12</code>, averaged over space (and over the crops).",
    ),
    (
        "layers",
        "layers: paper",
        "The paper's rule, per model: the output of every block after its activation, plus the "
        "features the classifier reads. For VGG19 the 16 convolutions after their ReLU and fc7 "
        "(9,600 features); for EfficientNet-Lite0 the stem after ReLU6, the 16 blocks' outputs, "
        "which end in a linear projection and so are <b>signed</b>, not rectified, and the "
        "pooled head after ReLU6 (3,120 features). A feature's top images are those with its "
        "<b>largest</b> values, negative ones included.",
    ),
    (
        "source",
        "kind of images",
        "Where the images came from: a folder of class folders, a manifest, WebDataset shards, "
        "a Hugging Face dataset, or the default dataset (a class-balanced subset of "
        "Fashion-MNIST's test split).",
    ),
    (
        "paper",
        "Eq., Fig., Table",
        f"Equations, figures and tables of the paper: {PAPER}.",
    ),
)


def term(anchor, text):
    """``text`` (HTML) linked to the glossary entry ``anchor`` of the report."""
    return f'<a class="term" href="#g-{anchor}">{text}</a>'


def glossary_section():
    """The words of the report, each with its anchor."""
    items = "".join(
        f'<dt id="g-{anchor}">{word}</dt><dd>{text}</dd>' for anchor, word, text in GLOSSARY
    )
    return f'<section id="glossary"><h2>Words used in this report</h2><dl>{items}</dl></section>'


def _pct(value):
    return fmt_share(value) if is_number(value) else "–"


def glance_section(s):
    """The headline: kept with the true labels against kept with shuffled labels, the
    classes that are mostly noise, and what per-class thresholds would keep."""
    sig = s.get("signal")
    if not isinstance(sig, dict) or not is_number(sig.get("kept")):
        return ""
    kept, chance = sig["kept"], sig.get("kept_shuffled")
    out = ['<section id="glance"><h2>At a glance</h2>']
    line = (
        f"<p><b>Pairs {term('kept', 'kept')}: {_pct(kept)}</b> of the (feature, class) pairs "
        "with the true labels"
    )
    if is_number(chance):
        line += (
            f", against <b>{_pct(chance)} with shuffled labels</b>, what chance alone keeps "
            "with the same thresholds"
        )
        if kept > 0:
            line += (
                f": about {_pct(chance / kept)} of the kept pairs are expected to be noise "
                f"(the {term('noise-share', 'noise share')} of the whole dataset)"
            )
    out.append(line + ".</p>")
    n_noisy, n_classes = sig.get("n_mostly_noise") or 0, s.get("n_classes")
    if n_noisy:
        out.append(
            f'<p><b>{n_noisy} of {escape(n_classes)} classes are <a href="#class-noise">'
            f"{term('mostly-noise', 'mostly noise')}</a></b>: what they keep is mostly what "
            "chance keeps. The example figures come from the other classes, and the tables "
            "mark them.</p>"
        )
    alt = sig.get("per_class")
    if isinstance(alt, dict):
        unresolved = alt.get("n_unresolved") or 0
        out.append(
            f'<p class="note"><b>The classes are uneven</b> ({escape(sig.get("smallest_class"))}'
            f" to {escape(sig.get('largest_class'))} images) and one pair of thresholds serves "
            "them all. Per-class thresholds (<code>dks analyze --thresholds per_class</code>; "
            '<code>thresholds="per_class"</code> in Python), bounding each class\'s noise share '
            f"at {_pct(alt.get('max_noise_share'))}, would keep {_pct(alt.get('kept'))} of the "
            f"pairs, against {_pct(alt.get('kept_shuffled'))} with shuffled labels"
            + (
                f"; {unresolved} class(es) would keep nothing, too small for their signal to "
                "stand out from chance"
                if unresolved
                else ""
            )
            + '. See <a href="#class-noise">Noise per class</a>.</p>'
        )
    out.append("</section>")
    return "".join(out)
