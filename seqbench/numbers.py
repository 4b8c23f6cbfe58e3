"""Readable numbers for people: the leaderboard, the HTML report and the terminal.

A mean is shown to the precision its spread supports (``9.995 ± 0.009``, not
``9.995 ± 0.009047``), counts with SI suffixes (``238 K`` parameters, ``6.66 G`` FLOPs), rates to
three significant figures. CSV files keep full precision; these helpers are for display only.
"""

from __future__ import annotations

import math

MISSING = "–"
_SI = ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K"))


def _finite(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _decimals_for(step: float, significant: int) -> int:
    """Decimal places that keep ``significant`` digits of ``step``; negative places round to
    tens, hundreds, ... (``round`` accepts them)."""
    places = significant - 1 - math.floor(math.log10(abs(step)))
    if abs(rounded := round(step, places)) >= 10 ** (significant - places):  # 0.9996 -> 1.00, not 1.000
        places = significant - 1 - math.floor(math.log10(abs(rounded)))
    return places


def _fixed(value: float, places: int) -> str:
    return _group(f"{round(value, places):.{max(0, places)}f}")


def sig(value: object, digits: int = 3) -> str:
    """``value`` to ``digits`` significant figures; scientific only outside 1e-3 .. 1e6."""
    number = _finite(value)
    if number is None:
        return MISSING if value is None or _is_nan(value) else str(value)
    if number == 0:
        return "0"
    if not 1e-3 <= abs(number) < 1e6:
        mantissa, exponent = f"{number:.{digits - 1}e}".split("e")
        return f"{mantissa}e{int(exponent)}"
    return _fixed(number, _decimals_for(number, digits))


def si(value: object, digits: int = 3) -> str:
    """A count with an SI suffix: ``238 K``, ``6.66 G``; below 1000 as an integer or to ``digits``."""
    number = _finite(value)
    if number is None:
        return MISSING if value is None or _is_nan(value) else str(value)
    for scale, suffix in _SI:
        if abs(number) >= scale * (1 - 0.5 * 10 ** (1 - digits)):  # 999.6 K rounds up to 1.00 M
            return f"{sig(number / scale, digits)} {suffix}"
    return str(round(number)) if float(number).is_integer() else sig(number, digits)


def mean_std(mean: object, std: object, n: int | None = None) -> str:
    """``mean ± std`` rounded to the spread: two significant digits of the std when its
    leading digit is 1 or 2 (where one digit would round by up to 50%), else one, and the mean
    to the same decimal place. A single run (``n == 1``) or a missing std shows the mean alone;
    a std of zero keeps four significant figures of the mean."""
    m, s = _finite(mean), _finite(std)
    if m is None:
        return MISSING
    if s is None or n == 1:
        return sig(m, 4)
    if s == 0:
        return f"{sig(m, 4)} ± 0"
    leading = int(f"{abs(s):e}"[0])
    digits = 2 if leading in (1, 2) else 1
    size = abs(m) or abs(s)
    if size < 1e-3 or size >= 1e6:  # tiny or huge: scientific with one shared exponent
        exponent = math.floor(math.log10(size))
        scale = 10.0**exponent
        places = _decimals_for(s / scale, digits)
        return f"({_fixed(m / scale, places)} ± {_fixed(s / scale, places)})e{exponent}"
    places = _decimals_for(s, digits)
    return f"{_fixed(m, places)} ± {_fixed(s, places)}"


def _group(text: str) -> str:
    """Thousands separators for the integer part of a fixed-point number (``1,234.5``)."""
    sign = "-" if text.startswith("-") else ""
    whole, dot, frac = text.lstrip("-").partition(".")
    if len(whole) <= 4:  # 1234 reads fine; 12,345 needs the comma
        return text
    return f"{sign}{int(whole):,}{dot}{frac}"


def _is_nan(value: object) -> bool:
    try:
        return math.isnan(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
