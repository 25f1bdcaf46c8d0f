"""DQ bits from the official ``good_bits`` parameter of ``outlier_detection``.

Kept apart from :mod:`.imaging` (which needs drizzle and the WCS tools) so that the
time-series mode imports only what it uses.

References
----------
JWST pipeline documentation, ``outlier_detection`` step arguments (``good_bits``).
"""

from __future__ import annotations

from astropy.nddata.bitmask import interpret_bit_flags

from ..dqflags import PIXEL

__all__ = ["bad_bits_from_good_bits"]

_ALL_BITS = 0xFFFFFFFF


def bad_bits_from_good_bits(good_bits: str | int | None) -> int:
    """DQ bits that exclude a pixel, from the official ``good_bits`` parameter.

    Parameters
    ----------
    good_bits : str, int or None
        Bits (or mnemonic names of :data:`webbcal.dqflags.PIXEL`, joined by ``+``
        or ``,``) that are *ignored*; a leading ``~`` means every bit but those.
        None: every DQ bit is ignored.

    Returns
    -------
    int
        Bit mask (uint32 range) of the flags that give zero weight.

    Raises
    ------
    ValueError
        If the text names an unknown flag or is not a valid bit specification.

    Examples
    --------
    >>> bad_bits_from_good_bits("~DO_NOT_USE")
    1
    >>> bad_bits_from_good_bits(None)
    0
    """
    try:
        good = interpret_bit_flags(good_bits, flag_name_map=PIXEL)
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(
            f"good_bits={good_bits!r}: not a DQ bit specification ({exc}); "
            "expected e.g. '~DO_NOT_USE' or 'DO_NOT_USE+NON_SCIENCE'"
        ) from None
    if good is None:
        return 0
    return int(~int(good)) & _ALL_BITS
