"""Association pools from file headers (``webbcal asn make-pool``, the official ``asn_make_pool``).

One row per file: every keyword of the primary header (lower-cased column
names, the union over all files, sorted; ``null`` where a file lacks one), plus
the columns the rules need that headers do not carry: ``asn_candidate`` (the
file's observation, ``o<OBSERVTN>``, and any extra candidates), ``dms_note``,
``is_imprt``, ``pntgtype``, ``targetid`` (numbered by distinct TARGNAME),
``mostilno`` and ``dithptin``. ``filename`` is the path as given.

References
----------
JWST pipeline documentation, "asn_make_pool" and "Association Pool".
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from .pool import Pool, PoolError, write_pool

__all__ = ["NON_HEADER_COLUMNS", "main", "make_pool"]

log = logging.getLogger(__name__)

#: Columns added to the header keywords, with their default values.
NON_HEADER_COLUMNS: dict[str, str | None] = {
    "asn_candidate": None,
    "dms_note": "",
    "is_imprt": "f",
    "pntgtype": "science",
    "targetid": "1",
    "mostilno": "1",
    "dithptin": "1",
}

_IGNORED = ("", "COMMENT", "HISTORY")


def _header(path: str):
    from astropy.io import fits

    if not os.path.isfile(path):
        raise PoolError(f"{path}: file not found")
    try:
        header = fits.getheader(path, 0)
    except OSError as exc:
        raise PoolError(f"{path}: not a readable FITS file ({exc})") from None
    header["FILENAME"] = str(path)
    return header


def make_pool(
    paths: list[str],
    *,
    asn_candidate: str | list | None = None,
    dms_note: str = "",
    is_imprt: str = "f",
    pntgtype: str = "science",
) -> Pool:
    """A pool with one row per file, from the files' primary headers.

    Parameters
    ----------
    paths : list of str
        FITS files (typically ``_uncal.fits``); recorded as given in ``filename``.
    asn_candidate : str or list of (id, type), optional
        Extra candidates for every row, e.g. ``"[('c1000', 'background')]"``.
    dms_note, is_imprt, pntgtype : str
        Values of these columns for every row.

    Returns
    -------
    Pool
        Values are lower case, as when a pool is read.

    Raises
    ------
    PoolError
        If a file is missing or not FITS, or a header lacks OBSERVTN or TARGNAME.
    """
    if not paths:
        raise PoolError("no files given to make a pool from")
    headers = [_header(os.fspath(p)) for p in paths]
    columns = {k.lower() for h in headers for k in h if k not in _IGNORED}
    columns |= set(NON_HEADER_COLUMNS)
    columns = sorted(columns)
    fixed = {**NON_HEADER_COLUMNS, "dms_note": dms_note, "is_imprt": is_imprt,
             "pntgtype": pntgtype}  # fmt: skip
    rows = []
    targets: list[str] = []
    for path, header in zip(paths, headers, strict=True):
        for keyword in ("OBSERVTN", "TARGNAME"):
            if keyword not in header:
                raise PoolError(f"{path}: primary header lacks {keyword} (needed for the pool)")
        values = {k.lower(): str(v) for k, v in header.items() if k not in _IGNORED}
        values.update(fixed)
        candidates = [(f"o{header['OBSERVTN']}", "observation")]
        if isinstance(asn_candidate, str):
            values["asn_candidate"] = f"[{candidates[0]}, {asn_candidate[1:]}"
        else:
            values["asn_candidate"] = str(candidates + list(asn_candidate or []))
        if values["targname"] not in targets:
            targets.append(values["targname"])
        values["targetid"] = str(len(targets))
        row = dict.fromkeys(columns, "null")
        row.update(values)
        rows.append({c: (str(row[c]).lower() if str(row[c]) else "null") for c in columns})
    return Pool(columns=columns, rows=rows, path="in-memory")


def main(argv: list[str] | None = None) -> int:
    """Run ``webbcal asn make-pool POOL FILE...``; return the exit status."""
    p = argparse.ArgumentParser(
        prog="webbcal asn make-pool",
        description="Make an association pool from the primary headers of files "
        "(the official asn_make_pool).",
    )
    p.add_argument("pool", help="pool file to write")
    p.add_argument("data", nargs="+", help="exposures (FITS files)")
    p.add_argument("--asn-candidate", default=None, help="additional candidates")
    p.add_argument("--dms-note", default="", help="DMS_NOTE of every row")
    p.add_argument("--is-imprt", default="f", help="IS_IMPRT of every row ('t': imprint)")
    p.add_argument("--pntgtype", default="science", help="PNTGTYPE of every row")
    args = p.parse_args(argv)
    try:
        pool = make_pool(
            args.data,
            asn_candidate=args.asn_candidate,
            dms_note=args.dms_note,
            is_imprt=args.is_imprt,
            pntgtype=args.pntgtype,
        )
        write_pool(pool, args.pool)
    except PoolError as exc:
        print(f"webbcal asn make-pool: error: {exc}", file=sys.stderr)
        return 1
    print(f"pool of {len(pool)} exposures, {len(pool.columns)} columns written to {args.pool}")
    return 0
