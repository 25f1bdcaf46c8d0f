"""Level 1b (``_uncal``) data model assembly: metadata, timing, GROUP and INT_TIMES tables.

Keyword meanings and the file-name convention follow the JWST keyword dictionary and the
"File Naming Conventions and Data Products" page of the JWST pipeline documentation:
``jw<ppppp><ooo><vvv>_<gg><s><aa>_<eeeee>_<detector>_uncal.fits``.

References
----------
JWST pipeline documentation, "Science Products: File Naming Schemes" and "Level 1b data".
JDox, "Understanding Exposure Times" (TFRAME, TGROUP, effective integration time).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from astropy.time import Time
from stdatamodels.jwst.datamodels import Level1bModel

from webbcal.simulate.detector import DetectorModel
from webbcal.simulate.ramp import RampTiming

__all__ = ["ExposureInfo", "build_level1b", "default_optical_elements", "jwst_filename"]

# Column layouts of the GROUP and INT_TIMES tables (group.schema, int_times.schema).
_INT_TIMES_DTYPE = np.dtype(
    [("integration_number", "<i4")]
    + [(f"int_{w}_{s}", "<f8") for s in ("MJD_UTC", "BJD_TDB") for w in ("start", "mid", "end")]
)
_GROUP_DTYPE = np.dtype(
    [
        ("integration_number", "<i4"),
        ("group_number", "<i2"),
        ("end_day", "<i2"),
        ("end_milliseconds", "<i4"),
        ("end_submilliseconds", "<i2"),
        ("group_end_time", "S26"),
        ("number_of_columns", "<i2"),
        ("number_of_rows", "<i2"),
        ("number_of_gaps", "<i2"),
        ("completion_code_number", "<i2"),
        ("completion_code_text", "S36"),
        ("bary_end_time", "<f8"),
        ("helio_end_time", "<f8"),
    ]
)

_DEFAULT_EXP_TYPE = {
    "NIRCAM": "NRC_IMAGE",
    "NIRSPEC": "NRS_FIXEDSLIT",
    "NIRISS": "NIS_IMAGE",
    "FGS": "FGS_IMAGE",
}


@dataclass(frozen=True)
class ExposureInfo:
    """Observation identifiers and instrument set-up of a simulated exposure.

    Attributes
    ----------
    readpatt : str
        READPATT keyword.
    exp_type : str
        EXP_TYPE keyword.
    filter, pupil, grating : str or None
        Optical elements (None leaves the keyword unset).
    date_obs, time_obs : str
        UTC start of the exposure, ``YYYY-MM-DD`` and ``hh:mm:ss.sss``.
    program, observation, visit, visit_group, sequence, activity, exposure : int
        Identifiers that make up the JWST file name.
    """

    readpatt: str
    exp_type: str
    filter: str | None = None
    pupil: str | None = None
    grating: str | None = None
    date_obs: str = "2023-06-01"
    time_obs: str = "12:00:00.000"
    program: int = 1234
    observation: int = 1
    visit: int = 1
    visit_group: int = 1
    sequence: int = 1
    activity: int = 1
    exposure: int = 1


def default_optical_elements(det: DetectorModel) -> tuple[str, str | None, str | None, str]:
    """Default (exp_type, filter, pupil, grating) for a detector's instrument."""
    exp_type = _DEFAULT_EXP_TYPE[det.instrument]
    if det.instrument == "NIRCAM":
        long = det.detector.endswith("LONG")
        return exp_type, ("F444W" if long else "F200W"), "CLEAR", None
    if det.instrument == "NIRSPEC":
        if det.subarray == "SUB512":
            exp_type = "NRS_BRIGHTOBJ"
        return exp_type, "CLEAR", None, "PRISM"
    if det.instrument == "NIRISS":
        return exp_type, "CLEAR", "F150W", None
    return exp_type, None, None, None


def jwst_filename(info: ExposureInfo, detector: str, suffix: str = "uncal") -> str:
    """JWST file name ``jw<ppppp><ooo><vvv>_<gg><s><aa>_<eeeee>_<detector>_<suffix>.fits``."""
    return (
        f"jw{info.program:05d}{info.observation:03d}{info.visit:03d}_"
        f"{info.visit_group:02d}{info.sequence:1d}{info.activity:02d}_"
        f"{info.exposure:05d}_{detector.lower()}_{suffix}.fits"
    )


def _timing_table(
    info: ExposureInfo, timing: RampTiming, nints: int, shape: tuple[int, int]
) -> tuple[dict, np.ndarray, np.ndarray]:
    """Exposure timing keywords plus GROUP and INT_TIMES table rows."""
    start = Time(f"{info.date_obs}T{info.time_obs}", format="isot", scale="utc")
    tf = timing.frame_time
    cadence = (timing.nread + 1) * tf  # one reset frame between integrations (NRESETS=1)
    int_start = start.mjd + np.arange(nints) * cadence / 86400.0
    int_end = int_start + timing.nread * tf / 86400.0
    end = Time(int_end[-1], format="mjd", scale="utc")
    tdb_offset = start.tdb.mjd - start.mjd  # BJD columns approximated by TDB (no barycentre)

    int_times = np.zeros(nints, dtype=_INT_TIMES_DTYPE)
    int_times["integration_number"] = np.arange(1, nints + 1)
    int_times["int_start_MJD_UTC"] = int_start
    int_times["int_end_MJD_UTC"] = int_end
    int_times["int_mid_MJD_UTC"] = 0.5 * (int_start + int_end)
    for col in ("start", "mid", "end"):
        int_times[f"int_{col}_BJD_TDB"] = int_times[f"int_{col}_MJD_UTC"] + tdb_offset

    ng = timing.ngroups
    group = np.zeros(nints * ng, dtype=_GROUP_DTYPE)
    g_end = (np.arange(ng) * (timing.nframes + timing.groupgap) + timing.nframes) * tf
    ends = (int_start[:, None] + g_end[None, :] / 86400.0).ravel()
    times = Time(ends, format="mjd", scale="utc")
    group["integration_number"] = np.repeat(np.arange(1, nints + 1), ng)
    group["group_number"] = np.tile(np.arange(1, ng + 1), nints)
    group["end_day"] = [int(t.yday.split(":")[1]) for t in times]
    frac = (ends - np.floor(ends)) * 86400.0
    group["end_milliseconds"] = np.floor(frac * 1000.0).astype(np.int32)
    group["group_end_time"] = [t.isot for t in times]
    group["number_of_columns"], group["number_of_rows"] = shape[1], shape[0]
    group["completion_code_text"] = "COMPLETE"
    group["bary_end_time"] = ends + tdb_offset
    group["helio_end_time"] = ends + tdb_offset

    duration = (end - start).to_value("s")
    keywords = {
        "EXPSTART": start.mjd,
        "EXPEND": end.mjd,
        "EXPMID": 0.5 * (start.mjd + end.mjd),
        "MJD-BEG": start.mjd,
        "MJD-END": end.mjd,
        "MJD-AVG": 0.5 * (start.mjd + end.mjd),
        "DATE-BEG": start.isot,
        "DATE-END": end.isot,
        "DURATION": duration,
        "TELAPSE": duration,
    }
    return keywords, group, int_times


def build_level1b(
    det: DetectorModel,
    data: np.ndarray,
    zero: np.ndarray | None,
    timing: RampTiming,
    info: ExposureInfo,
) -> Level1bModel:
    """Assemble a validated Level1bModel from simulated ramps.

    Parameters
    ----------
    det : DetectorModel
    data : ndarray, shape (nints, ngroups, ny, nx), uint16
    zero : ndarray, shape (nints, ny, nx), uint16, or None
    timing : RampTiming
    info : ExposureInfo

    Returns
    -------
    stdatamodels.jwst.datamodels.Level1bModel
    """
    nints = data.shape[0]
    model = Level1bModel(data=data)
    if zero is not None:
        model.zeroframe = zero
    timing_kw, group, int_times = _timing_table(info, timing, nints, det.shape)
    model.group = group
    model.int_times = int_times
    meta = model.meta
    meta.filename = jwst_filename(info, det.detector)
    meta.telescope = "JWST"
    meta.origin = "WEBBCAL"
    meta.bunit_data = "DN"
    inst = meta.instrument
    inst.name, inst.detector = det.instrument, det.detector
    if det.instrument == "NIRCAM":
        inst.channel = "LONG" if det.detector.endswith("LONG") else "SHORT"
        inst.module = det.detector[3]
    for name in ("filter", "pupil", "grating"):
        if getattr(info, name) is not None:
            setattr(inst, name, getattr(info, name))

    obs = meta.observation
    obs.program_number = f"{info.program:05d}"
    obs.observation_number = f"{info.observation:03d}"
    obs.visit_number = f"{info.visit:03d}"
    obs.visit_group = f"{info.visit_group:02d}"
    obs.sequence_id = f"{info.sequence:1d}"
    obs.activity_id = f"{info.activity:02d}"
    obs.exposure_number = f"{info.exposure:05d}"
    obs.visit_id = f"{info.program:05d}{info.observation:03d}{info.visit:03d}"
    obs.obs_id = (
        f"V{obs.visit_id}P0000000{info.visit_group:02d}{info.sequence:1d}{info.activity:02d}"
    )
    obs.date, obs.time = info.date_obs, info.time_obs
    obs.date_beg, obs.date_end = timing_kw["DATE-BEG"], timing_kw["DATE-END"]
    meta.visit.tsovisit = False

    exp = meta.exposure
    exp.type, exp.readpatt = info.exp_type, info.readpatt
    exp.nints, exp.ngroups = nints, timing.ngroups
    exp.nframes, exp.groupgap = timing.nframes, timing.groupgap
    exp.frame_divisor = timing.nframes
    exp.drop_frames1 = exp.drop_frames3 = 0
    exp.nresets_at_start = exp.nresets_between_ints = 1
    exp.nsamples, exp.sample_time = 1, 10.0
    exp.noutputs = det.noutputs
    exp.frame_time, exp.group_time = timing.frame_time, timing.group_time
    exp.integration_time = timing.ngroups * timing.group_time
    exp.exposure_time = exp.effective_exposure_time = nints * exp.integration_time
    exp.start_time, exp.mid_time, exp.end_time = (
        timing_kw["EXPSTART"],
        timing_kw["EXPMID"],
        timing_kw["EXPEND"],
    )
    exp.start_time_mjd, exp.mid_time_mjd, exp.end_time_mjd = (
        timing_kw["MJD-BEG"],
        timing_kw["MJD-AVG"],
        timing_kw["MJD-END"],
    )
    exp.duration = exp.elapsed_exposure_time = timing_kw["DURATION"]
    exp.zero_frame = zero is not None
    exp.integration_start, exp.integration_end = 1, nints

    sub = meta.subarray
    sub.name = det.subarray
    g = det.geometry
    sub.xstart, sub.ystart, sub.xsize, sub.ysize = g.xstart, g.ystart, g.xsize, g.ysize
    sub.fastaxis, sub.slowaxis = det.fastaxis, det.slowaxis
    return model
