"""Run webbcal and the official ``jwst`` calwebb_detector1 steps side by side.

Every reference is handed to both sides through ``override_<reftype>``; the official
pipeline runs offline from a CRDS cache holding only its ``server_config`` (no mappings,
no references), with CRDS parameter references disabled.

Three chains are recorded per case, as plain numpy arrays (the models are closed):

* ``official``: each official step on the previous official output;
* ``webbcal``: each webbcal step on the previous webbcal output;
* ``isolated``: each webbcal step on the previous *official* output, which isolates
  every step from the differences accumulated upstream.

``official["ramp_fit+dark"]`` (and ``_ints``) is the official ramp_fit run once more on
the official jump output given the DARK reference's 2-D average dark current, which
the official dark_current step of jwst 3.0.0 drops (see the test module docstring).

The official Detector1Pipeline runs with ``prefetch_references = False``: the prefetch
would look up every reference type of every non-skipped step, the MIRI-only ones
included, in a CRDS context this cache does not hold; each step still gets its
references from the overrides when it runs.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from webbcal.crds_client import crds_environment
from webbcal.lib.subarray import SubarrayGeometry

#: name -> (build_case keyword arguments, run_chains keyword arguments).
CASES = {
    # NIRCam corner subarray, RAPID, cosmic rays: the reference case.
    "nrca1_sub160p_rapid": (
        {"subarray": "SUB160P", "ngroups": 6, "nints": 1, "cr_rate": 2e-3, "seed": 3}, {}
    ),
    # Full-width stripe, 4 amplifiers, frame averaging with dropped frames, 2 integrations.
    "nrca1_stripe_medium8": (
        {"subarray": "GENERIC", "geometry": SubarrayGeometry(1, 1, 2048, 64),
         "readpatt": "MEDIUM8", "ngroups": 5, "nints": 2, "cr_rate": 2e-3, "seed": 7},
        {},
    ),
    # Frame averaging without gaps, 3 integrations (few groups).
    "nrca1_sub64p_bright2": (
        {"subarray": "SUB64P", "readpatt": "BRIGHT2", "ngroups": 4, "nints": 3,
         "cr_rate": 3e-3, "seed": 21},
        {},
    ),
    # NIRSpec: FASTAXIS=2 (columns read out along y).
    "nrs1_sub512_nrsrapid": (
        {"instrument": "NIRSPEC", "detector": "NRS1", "subarray": "SUB512", "ngroups": 6,
         "cr_rate": 2e-3, "seed": 5},
        {},
    ),
    # NIRISS: FASTAXIS=-2, SLOWAXIS=-1.
    "nis_sub64": (
        {"instrument": "NIRISS", "detector": "NIS", "subarray": "SUB64", "ngroups": 6,
         "nints": 2, "cr_rate": 3e-3, "seed": 9},
        {},
    ),
    # Three groups: the three-group jump threshold and two differences per ramp.
    "nrca1_sub64p_3groups": (
        {"subarray": "SUB64P", "ngroups": 3, "nints": 2, "cr_rate": 3e-3, "seed": 13}, {}
    ),
    # Two groups: jump detection is skipped on both sides.
    "nrca1_sub64p_2groups": (
        {"subarray": "SUB64P", "ngroups": 2, "nints": 2, "cr_rate": 3e-3, "seed": 15}, {}
    ),
    # ZEROFRAME present and frame-averaged groups, with two stars bright enough to
    # saturate group 0 but not the first frame: ramp_fit uses the ZEROFRAME for them.
    # charge_migration explicitly enabled (skip=True by default on both sides).
    "nrca1_sub160p_medium8_zeroframe_cm": (
        {"subarray": "SUB160P", "readpatt": "MEDIUM8", "ngroups": 3, "nints": 1,
         "cr_rate": 2e-3, "seed": 17, "zeroframe": True, "early_saturating": (12.0, 25.0)},
        {"charge_migration": True},
    ),
}  # fmt: skip

#: (alias, official class, webbcal class, reference types), in calwebb_detector1 order.
STEPS = (
    ("dq_init", "jwst.dq_init.DQInitStep", "webbcal.dq_init.DQInitStep", ("mask",)),
    ("saturation", "jwst.saturation.SaturationStep", "webbcal.saturation.SaturationStep",
     ("saturation", "superbias")),
    ("ipc", "jwst.ipc.IPCStep", "webbcal.ipc.IPCStep", ("ipc",)),
    ("superbias", "jwst.superbias.SuperBiasStep", "webbcal.superbias.SuperBiasStep",
     ("superbias",)),
    ("refpix", "jwst.refpix.RefPixStep", "webbcal.refpix.RefPixStep", ()),
    ("linearity", "jwst.linearity.LinearityStep", "webbcal.linearity.LinearityStep",
     ("linearity",)),
    ("dark_current", "jwst.dark_current.DarkCurrentStep",
     "webbcal.dark_current.DarkCurrentStep", ("dark",)),
    ("charge_migration", "jwst.charge_migration.ChargeMigrationStep",
     "webbcal.charge_migration.ChargeMigrationStep", ()),
    ("jump", "jwst.jump.JumpStep", "webbcal.jump.JumpStep", ("gain", "readnoise")),
    ("ramp_fit", "jwst.ramp_fitting.RampFitStep", "webbcal.ramp_fitting.RampFitStep",
     ("readnoise", "gain")),
    ("gain_scale", "jwst.gain_scale.GainScaleStep", "webbcal.gain_scale.GainScaleStep",
     ("gain",)),
)  # fmt: skip

#: References of official steps that our simulator does not write (the IRS2 and SIRS
#: reference-pixel references; neither applies to these subarray cases): declared N/A.
OFFICIAL_NA = {"refpix": ("refpix", "sirskernel")}

RAMP_ARRAYS = ("data", "groupdq", "pixeldq")
IMAGE_ARRAYS = ("data", "dq", "err", "var_poisson", "var_rnoise")


@dataclass
class Exposure:
    """A simulated raw exposure and its reference files."""

    uncal: Path
    refs: dict


def build_exposure(
    root: Path,
    *,
    early_saturating: tuple[float, ...],
    instrument: str = "NIRCAM",
    detector: str = "NRCA1",
    subarray: str | None = None,
    geometry=None,
    readpatt: str | None = None,
    ngroups: int = 5,
    nints: int = 1,
    cr_rate: float = 2e-5,
    seed: int = 0,
    zeroframe: bool = False,
) -> Exposure:
    """Like ``build_case`` of ``tests/conftest.py``, plus stars that saturate early.

    Every star of ``early_saturating`` gets a peak pixel that reaches the median full
    well after ``1 / fill`` of the integration (``fill`` > 5 saturates the first group
    of MEDIUM8 and DEEP8 groups while the first frame stays below saturation).
    No CRDS context is written: every reference is given as an override.
    """
    from scipy.special import erf

    from webbcal.simulate import make_detector, simulate_exposure, write_reference_files
    from webbcal.simulate.scene import Scene, Star

    det = make_detector(
        instrument=instrument, detector=detector, subarray=subarray, geometry=geometry,
        seed=seed,
    )  # fmt: skip
    kw = {"readpatt": readpatt, "ngroups": ngroups, "nints": nints, "cr_rate": cr_rate,
          "seed": seed + 1, "zeroframe": zeroframe}  # fmt: skip
    sim = simulate_exposure(det, **kw)
    exp = sim.model.meta.exposure
    t_int = exp.frame_time * (ngroups * (exp.nframes + exp.groupgap) - exp.groupgap)
    full_well_e = float(np.median(det.full_well * det.gain))
    sigma = 1.0
    peak_frac = erf(0.5 / (np.sqrt(2.0) * sigma)) ** 2
    ny, nx = det.shape
    extra = tuple(
        Star(x=nx * (0.3 + 0.4 * i), y=ny * 0.55, sigma=sigma,
             flux=fill * full_well_e / (t_int * peak_frac))
        for i, fill in enumerate(early_saturating)
    )  # fmt: skip
    scene = Scene(sky=sim.scene.sky, stars=sim.scene.stars + extra)
    sim = simulate_exposure(det, scene=scene, **kw)
    refs = write_reference_files(det, root / "refs", readpatt=readpatt, ngroups=ngroups)
    return Exposure(sim.save(root / "data")["uncal"], refs)


def _load(dotted: str):
    module, name = dotted.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)


def write_offline_cache(root: Path) -> Path:
    """A CRDS cache holding only ``config/jwst/server_config`` (no mappings, no refs)."""
    cfg = root / "config" / "jwst"
    cfg.mkdir(parents=True, exist_ok=True)
    info = {
        "observatory": "jwst",
        "operational_context": "jwst_0001.pmap",
        "edit_context": "jwst_0001.pmap",
        "latest_context": "jwst_0001.pmap",
        "versions_context": "jwst_0001.pmap",
        "last_synced": "2024-01-01 00:00:00",
        "bad_files_list": [],
        "bad_files": "",
        "force_remote_mode": False,
        "mappings": [],
        "crds_version": {"str": "offline"},
    }
    (cfg / "server_config").write_text(repr(info))
    return root


@contextlib.contextmanager
def offline_environment(root: Path):
    """Offline CRDS (server_config only) and no CRDS parameter references."""
    saved = os.environ.get("STPIPE_DISABLE_CRDS_STEPPARS")
    os.environ["STPIPE_DISABLE_CRDS_STEPPARS"] = "true"
    try:
        with crds_environment(write_offline_cache(root)):
            yield
    finally:
        if saved is None:
            os.environ.pop("STPIPE_DISABLE_CRDS_STEPPARS", None)
        else:
            os.environ["STPIPE_DISABLE_CRDS_STEPPARS"] = saved


def snapshot(model) -> dict[str, np.ndarray]:
    """Copies of the compared arrays of a ramp, image or cube model, plus its status."""
    names = RAMP_ARRAYS if model.data.ndim == 4 else IMAGE_ARRAYS
    out = {name: np.array(getattr(model, name)) for name in names}
    if model.data.ndim == 4 and model.meta.exposure.zero_frame and model.hasattr("zeroframe"):
        out["zeroframe"] = np.array(model.zeroframe)
    out["status"] = dict(model.meta.cal_step.instance)
    return out


@dataclass
class ChainResult:
    """Per-step snapshots of the three chains, and their timings (s)."""

    official: dict = field(default_factory=dict)
    webbcal: dict = field(default_factory=dict)
    isolated: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)
    #: The official jump output (a RampModel), kept for exposures with a ZEROFRAME.
    official_ramp: object = None


def _overrides(refs: dict, reftypes, *, official: bool, alias: str) -> dict:
    kw = {f"override_{r}": os.fspath(refs[r]) for r in reftypes}
    if official:
        kw.update({f"override_{r}": "N/A" for r in OFFICIAL_NA.get(alias, ())})
    return kw


def _split(result):
    """``(rate, rateints)`` of a ramp_fit result, or ``(model, None)``."""
    if isinstance(result, tuple):
        return result
    return result, None


def run_chains(
    uncal: Path,
    refs: dict,
    work: Path,
    *,
    charge_migration: bool = False,
    step_params: dict | None = None,
) -> ChainResult:
    """Run the official and the webbcal step chains (and the isolated webbcal steps).

    Parameters
    ----------
    uncal : Path
        Raw exposure.
    refs : dict
        ``{reftype: path}`` of the simulated references.
    work : Path
        Scratch directory (the offline CRDS cache goes here).
    charge_migration : bool
        Run charge_migration (skipped by default on both sides).
    step_params : dict, optional
        ``{alias: {param: value}}`` given to both sides.
    """
    from stdatamodels.jwst import datamodels as dm

    RampFit = _load("jwst.ramp_fitting.RampFitStep")
    step_params = step_params or {}
    res = ChainResult()
    with offline_environment(work / "offline_crds"):
        official = dm.RampModel(os.fspath(uncal))
        ours = official.copy()
        official_ints = ours_ints = None
        for alias, off_cls, our_cls, reftypes in STEPS:
            if alias == "charge_migration" and not charge_migration:
                continue
            params = dict(step_params.get(alias, {}))
            if alias == "charge_migration":
                params["skip"] = False
            off_kw = _overrides(refs, reftypes, official=True, alias=alias) | params
            our_kw = _overrides(refs, reftypes, official=False, alias=alias) | params
            off_step, our_step = _load(off_cls), _load(our_cls)
            t0 = time.perf_counter()
            if alias == "gain_scale":  # on both the rate and the rateints products
                new_off = off_step.call(official.copy(), **off_kw)
                new_off_ints = off_step.call(official_ints.copy(), **off_kw)
                t1 = time.perf_counter()
                new_ours = our_step.call(ours, **our_kw)
                new_ours_ints = our_step.call(ours_ints, **our_kw)
                t2 = time.perf_counter()
                iso = our_step.call(official, **our_kw)
                iso_ints = our_step.call(official_ints, **our_kw)
            else:
                new_off, new_off_ints = _split(off_step.call(official.copy(), **off_kw))
                t1 = time.perf_counter()
                new_ours, new_ours_ints = _split(our_step.call(ours, **our_kw))
                t2 = time.perf_counter()
                iso, iso_ints = _split(our_step.call(official, **our_kw))
            res.seconds[alias] = (t1 - t0, t2 - t1)  # official, webbcal (chained)
            res.official[alias] = snapshot(new_off)
            res.webbcal[alias] = snapshot(new_ours)
            res.isolated[alias] = snapshot(iso)
            if new_off_ints is not None:
                res.official[alias + "_ints"] = snapshot(new_off_ints)
                res.webbcal[alias + "_ints"] = snapshot(new_ours_ints)
                res.isolated[alias + "_ints"] = snapshot(iso_ints)
            if alias == "dark_current":
                res.official[alias]["average_dark_current"] = _avg_dark(new_off)
                res.webbcal[alias]["average_dark_current"] = _avg_dark(new_ours)
                res.isolated[alias]["average_dark_current"] = _avg_dark(iso)
            if alias == "jump" and "zeroframe" in res.official[alias]:
                res.official_ramp = new_off.copy()
            if alias == "jump":
                # The official ramp_fit again, on the official ramp given the DARK
                # reference's 2-D average dark current (see official_dark_dropped).
                fixed = new_off.copy()
                fixed.average_dark_current = _reference_average_dark(refs["dark"])
                rate, ints = RampFit.call(
                    fixed, **_overrides(refs, ("readnoise", "gain"), official=True, alias="")
                )
                res.official["ramp_fit+dark"] = snapshot(rate)
                res.official["ramp_fit+dark_ints"] = snapshot(ints)
            official, official_ints = new_off, new_off_ints
            ours, ours_ints = new_ours, new_ours_ints
    return res


def _avg_dark(model):
    if not model.hasattr("average_dark_current"):
        return None
    return np.array(model.average_dark_current)


def _reference_average_dark(path) -> np.ndarray:
    from stdatamodels.jwst import datamodels as dm

    with dm.DarkModel(os.fspath(path)) as dark:
        return np.array(dark.average_dark_current, dtype=np.float32)


def run_official_pipeline(uncal: Path, refs: dict, work: Path):
    """The official Detector1Pipeline end to end; returns ``(rate, rateints)`` snapshots."""
    from jwst.pipeline import Detector1Pipeline

    steps = {}
    for alias, _, _, reftypes in STEPS:
        steps[alias] = _overrides(refs, reftypes, official=True, alias=alias)
    out = work / "official_pipeline"
    out.mkdir(parents=True, exist_ok=True)
    with offline_environment(work / "offline_crds"):
        # No prefetch: it would look up every reference type of every step (MIRI ones
        # included) in a CRDS context this cache does not hold.
        pipe = Detector1Pipeline(steps=steps, output_dir=os.fspath(out), save_results=True)
        pipe.prefetch_references = False
        rate = pipe.run(os.fspath(uncal))
        rate_snap = snapshot(rate)
    from stdatamodels.jwst import datamodels as dm

    (ints_path,) = out.glob("*_rateints.fits")
    with dm.open(ints_path) as ints:
        return rate_snap, snapshot(ints)


def run_webbcal_pipeline(uncal: Path, refs: dict, work: Path):
    """webbcal's Detector1Pipeline end to end; returns ``(rate, rateints)`` snapshots."""
    from stdatamodels.jwst import datamodels as dm

    from webbcal.pipeline import Detector1Pipeline

    steps = {}
    for alias, _, _, reftypes in STEPS:
        steps[alias] = _overrides(refs, reftypes, official=False, alias=alias)
    out = work / "webbcal_pipeline"
    out.mkdir(parents=True, exist_ok=True)
    with offline_environment(work / "offline_crds"):
        rate = Detector1Pipeline.call(
            os.fspath(uncal), steps=steps, output_dir=os.fspath(out), save_results=True,
            progress=False,
        )  # fmt: skip
        rate_snap = snapshot(rate)
    (ints_path,) = out.glob("*_rateints.fits")
    with dm.open(ints_path) as ints:
        return rate_snap, snapshot(ints)


# --------------------------------------------------------------------------- comparison


def max_rel_diff(a: np.ndarray, b: np.ndarray, mask=None, *, atol: float = 0.0) -> float:
    """max |a - b| / max(|b|, atol) over ``mask`` (NaNs must coincide; they are skipped)."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    if mask is None:
        mask = np.ones(b.shape, bool)
    mask = np.broadcast_to(mask, b.shape)
    both = mask & np.isfinite(a) & np.isfinite(b)
    if not both.any():
        return 0.0
    denom = np.maximum(np.abs(b[both]), atol) if atol else np.abs(b[both])
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.abs(a[both] - b[both]) / denom
    rel[np.abs(a[both] - b[both]) == 0] = 0.0
    return float(np.nanmax(rel)) if rel.size else 0.0


def nan_mismatch(a: np.ndarray, b: np.ndarray, mask=None) -> int:
    """Number of pixels (within ``mask``) where exactly one of ``a``, ``b`` is NaN."""
    diff = np.isnan(a) != np.isnan(b)
    if mask is not None:
        diff &= np.broadcast_to(mask, diff.shape)
    return int(diff.sum())


def dq_agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Fraction of elements whose DQ values are identical."""
    return float(np.mean(np.asarray(a) == np.asarray(b)))
