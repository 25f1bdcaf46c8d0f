"""The ``persistence`` step adapter (flag-based persistence of jwst 3.0)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..stpipe import Param, Step, StepSkipped

__all__ = ["PersistenceStep", "read_persistence_file", "write_persistence_file"]

log = logging.getLogger(__name__)


class PersistenceStep(Step):
    """Flag groups inside the persistence window of earlier bright pixels (alias ``persistence``).

    Skipped by default, as in the official pipeline. With ``persistence_time`` set,
    a pixel that saturates (or exceeds ``dn_threshold``) opens a window of that many
    seconds in which its groups are flagged PERSISTENCE. Windows still open at the end
    are written to ``save_persistence`` (ASDF, one entry per detector) and read back
    from ``persistence_array_file`` by a later exposure.

    References
    ----------
    JWST Science Calibration Pipeline documentation (jwst 3.0), "Persistence".
    """

    class_alias = "persistence"
    cal_step_name = "persistence"
    spec = (
        Param("skip", bool, True, "Skip this step"),
        Param("save_persistence", str, None,
              "ASDF file to write the open persistence windows to (for later exposures)",
              allow_none=True),
        Param("persistence_time", int, None, "Length of a persistence window", unit="s",
              allow_none=True),
        Param("dn_threshold", float, None, "Signal above which a persistence window opens",
              unit="DN", allow_none=True),
        Param("persistence_array_file", str, None,
              "ASDF file of persistence windows left open by earlier exposures",
              allow_none=True),
        Param("persistence_dnu", bool, False, "Also flag persistence groups DO_NOT_USE"),
    )  # fmt: skip

    def process(self, model):
        from ..datamodels import to_ramp_model
        from .flagging import flag_persistence

        ramp = to_ramp_model(model)
        if self.persistence_time is None or self.persistence_time <= 0:
            log.warning(
                "persistence_time=%r; a persistence window needs a time > 0 s: "
                "the step is marked FAILED and nothing is flagged",
                self.persistence_time,
            )
            object.__setattr__(self, "_failed", True)
            return ramp
        object.__setattr__(self, "_failed", False)
        _, _, ny, nx = ramp.data.shape
        detector = ramp.meta.instrument.detector
        ends = None
        if self.persistence_array_file is not None:
            ends = read_persistence_file(
                self.persistence_array_file, detector, (ny, nx), self.persistence_time
            )
        ramp.groupdq, ends = flag_persistence(
            ramp.data, ramp.groupdq,
            integration_starts=integration_starts(ramp),
            group_time=float(ramp.meta.exposure.group_time),
            persistence_time=float(self.persistence_time),
            dn_threshold=self.dn_threshold,
            window_ends=ends,
            do_not_use=self.persistence_dnu,
        )  # fmt: skip
        if self.save_persistence is not None:
            existed = os.path.exists(_asdf_name(self.save_persistence))
            path = write_persistence_file(
                self.save_persistence, detector, ends,
                filename=ramp.meta.filename, persistence_time=self.persistence_time,
            )  # fmt: skip
            if not existed:
                self.record_output(path)
        return ramp

    def _set_status(self, model: Any, status: str) -> None:
        if status == "COMPLETE" and self.__dict__.get("_failed"):
            status = "FAILED"
        super()._set_status(model, status)


def integration_starts(model: Any) -> np.ndarray:
    """Start time of each integration of ``model`` in Unix seconds.

    From the INT_TIMES table (``int_start_MJD_UTC``) where it has a row for the
    integration, matched by ``integration_number`` when the table carries the
    numbers of this segment (INTSTART...), otherwise by position; integrations
    without a row start at EXPSTART + n * EFFINTTM.

    Raises
    ------
    StepSkipped
        If an integration has no INT_TIMES row and EXPSTART is missing.
    """
    from .flagging import mjd_to_unix

    nints = model.data.shape[0]
    exp = model.meta.exposure
    table = getattr(model, "int_times", None)
    rows: list[float | None] = [None] * nints
    if table is not None and len(table):
        first = int(getattr(exp, "integration_start", None) or 1)
        numbers = list(np.asarray(table["integration_number"]).astype(int))
        wanted = list(range(first, first + nints))
        if all(n in numbers for n in wanted):
            index = [numbers.index(n) for n in wanted]
        else:
            index = list(range(min(nints, len(table))))
        for i, k in enumerate(index):
            rows[i] = float(table["int_start_MJD_UTC"][k])
    starts = np.empty(nints, dtype=np.float64)
    for i, mjd in enumerate(rows):
        if mjd is None:
            if exp.start_time is None or exp.integration_time is None:
                raise StepSkipped(
                    f"integration {i + 1} has no INT_TIMES row and EXPSTART or EFFINTTM is "
                    "missing: the group times are unknown"
                )
            starts[i] = mjd_to_unix(float(exp.start_time)) + i * float(exp.integration_time)
        else:
            starts[i] = mjd_to_unix(mjd)
    return starts


def read_persistence_file(
    path: str, detector: str, shape: tuple[int, int], persistence_time: float
) -> np.ndarray:
    """Read the persistence-window end times of ``detector`` from an ASDF file.

    The file holds, per detector, ``rows``, ``cols``, ``vals`` (window end times,
    Unix seconds), ``pers_time`` and the ``filename`` of the exposure that wrote them
    (the official layout). A missing file, a missing detector or a different
    ``pers_time`` gives no open window (logged).

    Returns
    -------
    ndarray, shape ``shape``, float64, s
        Window end times; 0 where no window is open.
    """
    import asdf

    ends = np.zeros(shape, dtype=np.float64)
    if not Path(path).exists():
        log.info("Persistence array file %s does not exist; starting with no open window", path)
        return ends
    with asdf.open(path, lazy_load=False, memmap=False) as af:
        entry = af.tree.get(detector)
        if entry is None:
            log.info("Detector %s is not in persistence array file %s", detector, path)
            return ends
        if entry["pers_time"] != persistence_time:
            log.info(
                "Persistence array file %s was written with pers_time=%s, not "
                "persistence_time=%s; starting with no open window",
                path, entry["pers_time"], persistence_time,
            )  # fmt: skip
            return ends
        ends[np.asarray(entry["rows"]), np.asarray(entry["cols"])] = np.asarray(entry["vals"])
    return ends


def write_persistence_file(
    path: str, detector: str, ends: np.ndarray, *, filename: str | None, persistence_time: float
) -> str:
    """Add (or replace) ``detector``'s open persistence windows in an ASDF file.

    The extension is forced to ``.asdf``; other detectors already in the file are kept.
    Only pixels with an open window are stored (``rows``, ``cols``, ``vals``).

    Returns
    -------
    str
        The path written.
    """
    import asdf

    p = Path(_asdf_name(path))
    tree: dict[str, Any] = {}
    if p.exists():
        with asdf.open(p, lazy_load=False, memmap=False) as af:
            tree = {k: v for k, v in af.tree.items() if not k.startswith("asdf_")}
            tree = {k: _plain(v) for k, v in tree.items() if k != "history"}
    rows, cols = np.nonzero(ends)
    tree[detector] = {
        "filename": filename,
        "rows": rows,
        "cols": cols,
        "vals": ends[rows, cols],
        "pers_time": persistence_time,
    }
    asdf.AsdfFile(tree).write_to(p)
    log.info("Saved persistence windows of %s to %s", detector, p)
    return os.fspath(p)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if hasattr(value, "__array__"):
        return np.asarray(value)
    return value


def _asdf_name(path: str) -> str:
    p = Path(path)
    return os.fspath(p if p.suffix == ".asdf" else p.with_suffix(".asdf"))
