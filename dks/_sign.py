"""The sign of D_KS, as the public API names it: one vocabulary, one validator.

Every public function or method that asks *which side* of D_KS it is about takes a parameter
named ``sign`` with one of these values:

- ``"presence"``: D_KS > 0, the feature is higher on the class (relevance code ``+1``);
- ``"absence"``: D_KS < 0, the feature is lower on the class (relevance code ``-1``);
- ``"both"``: either side.

The int8 codes ``+1 / -1 / 0`` are data (``NoiseThresholdSelector.relevance_``), not parameter
values. They were accepted as ``sign`` values in dks 0.1; :func:`check_sign` still maps them,
with a :class:`FutureWarning`, until dks 0.3.
"""

import warnings

__all__ = ["SIGNS", "check_sign", "sign_code", "sign_from_side"]

#: The values of every ``sign`` parameter.
SIGNS = ("presence", "absence", "both")

_CODES = {"presence": 1, "absence": -1, "both": 0}
_LEGACY = {1: "presence", -1: "absence", 0: "both"}


def check_sign(sign, *, allowed=SIGNS, name="sign", stacklevel=3):
    """Validate a ``sign`` parameter and return it.

    Parameters
    ----------
    sign : {"presence", "absence", "both"}
        The value given by the user.
    allowed : tuple of str, default=SIGNS
        The values that this caller accepts (e.g. a single side only).
    name : str, default="sign"
        The parameter's name, for the error message.
    stacklevel : int, default=3
        For the deprecation warning: 3 points at the caller of the function that validates.

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
    legacy = None
    if not isinstance(sign, (bool, str)):
        try:
            legacy = _LEGACY.get(sign)
        except TypeError:  # unhashable
            legacy = None
    if legacy is not None and legacy in allowed:
        warnings.warn(
            f"{name}={sign!r} is deprecated since dks 0.2 and will be an error in 0.3; "
            f"use {name}={legacy!r}.",
            FutureWarning,
            stacklevel=stacklevel,
        )
        return legacy
    *head, last = (repr(s) for s in allowed)
    options = f"{', '.join(head)} or {last}" if head else last
    raise ValueError(f"{name} must be {options}; got {sign!r} instead.")


def sign_code(sign):
    """The relevance code of a validated ``sign``: ``+1``, ``-1`` or ``0`` (both)."""
    return _CODES[sign]


_SIDES = {"positive": "presence", "negative": "absence", "both": "both"}


def sign_from_side(side, sign, *, stacklevel=3):
    """``sign``, or the deprecated ``side`` of dks 0.1 figures translated to it (until 0.3).

    ``side="positive"`` is ``sign="presence"``, ``"negative"`` is ``"absence"``.
    """
    if side is None:
        return sign
    if side not in _SIDES:
        raise ValueError(
            f"side is deprecated (use sign='presence', 'absence' or 'both'); got side={side!r}."
        )
    warnings.warn(
        f"side={side!r} is deprecated since dks 0.2 and will be removed in 0.3; "
        f"use sign={_SIDES[side]!r}.",
        FutureWarning,
        stacklevel=stacklevel,
    )
    return _SIDES[side]
