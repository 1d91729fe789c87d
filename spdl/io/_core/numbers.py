"""Numeric arguments: Python and NumPy numbers alike, in the range the native core takes.

NumPy registers its scalars with :mod:`numbers` (``np.int64`` is ``Integral``,
``np.float32`` is ``Real``); bools, Python's and NumPy's, are refused. Each check
returns the plain Python number, so that nothing NumPy reaches a native call or a
filter description.
"""

from __future__ import annotations

import numbers
import operator
from fractions import Fraction

__all__ = ["INT_MAX", "as_int", "as_real", "is_int", "is_real"]

INT_MAX = 2**31 - 1  # the native core's sizes, rates and counts are C ints


def is_int(value: object) -> bool:
    """Whether ``value`` is a Python or NumPy integer (not a bool)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_real(value: object) -> bool:
    """Whether ``value`` is a Python or NumPy real number (not a bool)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def as_int(name: str, value: object, minimum: int, maximum: int | None = INT_MAX) -> int:
    """``value`` as a Python int (``maximum=None``: no upper bound).

    Raises:
        TypeError: ``value`` is not an integer (see :func:`is_int`).
        ValueError: ``value`` lies outside ``[minimum, maximum]``; the message names ``name``.
    """
    if not is_int(value):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}.")
    number = operator.index(value)  # type: ignore[arg-type]  # an Integral
    if number < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {number}.")
    if maximum is not None and number > maximum:
        raise ValueError(f"{name} must be at most {maximum}, got {number}.")
    return number


def as_real(value: object) -> int | float | Fraction:
    """A real number (see :func:`is_real`) as a Python one: ints and Fractions as they
    are, NumPy integers as ints, other reals as floats."""
    if isinstance(value, int | Fraction):
        return value
    if is_int(value):
        return operator.index(value)  # type: ignore[arg-type]  # an Integral
    return float(value)  # type: ignore[arg-type]  # a Real
