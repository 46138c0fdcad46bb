"""The sign of D_KS, as the public API names it: one vocabulary, one validator.

Every public function or method that asks *which side* of D_KS it is about takes a parameter
named ``sign`` with one of these values:

- ``"presence"``: D_KS > 0, the feature is higher on the class (relevance code ``+1``);
- ``"absence"``: D_KS < 0, the feature is lower on the class (relevance code ``-1``);
- ``"both"``: either side.

The int8 codes ``+1 / -1 / 0`` are data (``NoiseThresholdSelector.relevance_``), never
parameter values; :func:`sign_code` maps a ``sign`` to its code.

Each side has one colour, the same on every page and figure (the report, its figures and
the explorer): :data:`SIGN_COLORS`. Blue for presence and red for absence, as matplotlib's
``C0`` and ``C3`` which the figures used first; the explorer takes them from its overview
JSON, so that no page keeps a copy.
"""

from numbers import Integral

__all__ = ["SIGNS", "SIGN_COLORS", "check_sign", "sign_code"]

#: The values of every ``sign`` parameter.
SIGNS = ("presence", "absence", "both")

_CODES = {"presence": 1, "absence": -1, "both": 0}

#: The colour of each side of D_KS (positive: presence; negative: absence) everywhere.
SIGN_COLORS = {"presence": "#1f5fa8", "absence": "#b0302a"}


def check_sign(sign, *, allowed=SIGNS, name="sign"):
    """Validate a ``sign`` parameter and return it.

    Parameters
    ----------
    sign : {"presence", "absence", "both"}
        The value given by the user.
    allowed : tuple of str, default=SIGNS
        The values that this caller accepts (e.g. a single side only).
    name : str, default="sign"
        The parameter's name, for the error message.

    Returns
    -------
    str
        One of ``allowed``.

    Raises
    ------
    ValueError
        Naming the parameter, the value and the valid options.

    Examples
    --------
    >>> from dks._sign import check_sign
    >>> check_sign("absence")
    'absence'
    """
    if isinstance(sign, str) and sign in allowed:
        return sign
    *head, last = (repr(s) for s in allowed)
    options = f"{', '.join(head)} or {last}" if head else last
    hint = ""
    if isinstance(sign, Integral) and not isinstance(sign, bool) and sign in (1, -1, 0):
        hint = " (the codes +1, -1 and 0 of relevance_ are data, not values of sign)"
    raise ValueError(f"{name} must be {options}; got {sign!r} instead{hint}.")


def sign_code(sign):
    """The relevance code of a validated ``sign``: ``+1``, ``-1`` or ``0`` (both)."""
    return _CODES[sign]
