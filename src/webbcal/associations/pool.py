"""DMS association pools: read the pipe-separated table of exposures.

A pool is a text table with one header row of column names and one row per
exposure, fields separated by ``|``; lines starting with ``#`` are comments.
As in the official reader, column names and values are lower-cased, values
are stripped of surrounding blanks and empty fields read as ``"null"``.

References
----------
JWST pipeline documentation, "Association Pool" and "asn_generate"
(``jwst.associations.pool.AssociationPool.read``).
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from dataclasses import dataclass, field

__all__ = ["REQUIRED_COLUMNS", "Pool", "PoolError", "read_pool", "write_pool"]

#: Columns the generator cannot work without.
REQUIRED_COLUMNS: tuple[str, ...] = ("filename", "program", "exp_type", "asn_candidate")


class PoolError(ValueError):
    """A pool file is missing, unreadable or malformed."""


@dataclass
class Pool:
    """An association pool.

    Attributes
    ----------
    columns : list of str
        Column names, lower case, in file order.
    rows : list of dict
        One ``{column: value}`` per exposure; values are lower-case strings.
    path : str
        File the pool came from (``"in-memory"`` otherwise).
    """

    columns: list[str]
    rows: list[dict[str, str]] = field(default_factory=list)
    path: str = "in-memory"

    @property
    def name(self) -> str:
        """File name of the pool (no folder), as recorded in ``asn_pool``."""
        return os.path.basename(self.path)

    def __len__(self) -> int:
        return len(self.rows)


def _records(text: str, delimiter: str):
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    lines = [(n, line) for n, line in lines if not line.lstrip().startswith("#")]
    reader = csv.reader(io.StringIO("\n".join(line for _, line in lines)), delimiter=delimiter)
    for (lineno, _), fields in zip(lines, reader, strict=False):
        yield lineno, [f.strip() for f in fields]


def read_pool(
    path: str | os.PathLike,
    *,
    delimiter: str = "|",
    required: tuple[str, ...] = REQUIRED_COLUMNS,
) -> Pool:
    """Read a DMS association pool.

    Parameters
    ----------
    path : str or path-like
        The pool file (``jwPPPPP_YYYYMMDDtHHMMSS_pool.csv``).
    delimiter : str
        Field separator.
    required : tuple of str
        Columns that must be present (lower case).

    Returns
    -------
    Pool

    Raises
    ------
    PoolError
        If the file does not exist or cannot be read, has no header row, lacks
        required columns (all named), or has a row whose number of fields
        differs from the header's (line number given).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise PoolError(f"{path}: association pool not found")
    try:
        with open(path, encoding="utf-8-sig") as fh:
            text = fh.read()
    except UnicodeDecodeError:
        raise PoolError(f"{path}: not a text (UTF-8) association pool") from None
    except OSError as exc:
        raise PoolError(f"{path}: cannot read the association pool: {exc.strerror}") from None
    records = _records(text, delimiter)
    try:
        _, header = next(records)
    except StopIteration:
        raise PoolError(f"{path}: empty association pool (no header row)") from None
    columns = [c.lower() for c in header]
    missing = [c for c in required if c not in columns]
    if missing:
        raise PoolError(
            f"{path}: association pool lacks required column(s) "
            f"{', '.join(c.upper() for c in missing)} (header has {len(columns)} columns "
            f"separated by {delimiter!r})"
        )
    rows = []
    for lineno, fields in records:
        if len(fields) != len(columns):
            raise PoolError(
                f"{path}: line {lineno} has {len(fields)} fields; expected {len(columns)} "
                f"(one per header column, separated by {delimiter!r})"
            )
        rows.append({c: (v.lower() if v else "null") for c, v in zip(columns, fields, strict=True)})
    return Pool(columns=columns, rows=rows, path=path)


def write_pool(pool: Pool, path: str | os.PathLike, *, delimiter: str = "|") -> str:
    """Write ``pool`` as a pipe-separated table, atomically; return the path."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp_webbcal_pool_", suffix=".csv", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, delimiter=delimiter, lineterminator="\n")
            writer.writerow([c.upper() for c in pool.columns])
            for row in pool.rows:
                writer.writerow([row.get(c, "null") for c in pool.columns])
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path
