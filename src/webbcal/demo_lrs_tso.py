"""``webbcal demo --instrument miri --mode lrs-tso``: raw ramps to a transit depth.

A MIRI LRS slitless time series with a transit of known depth, mid-time and duration
and a wavelength-dependent depth is simulated from raw ramps
(:func:`webbcal.simulate.lrs_tso.simulate_lrs_tso`), its stage-1 and stage-2 references
are put into a local CRDS context, and the exposure goes through

* calwebb_detector1 (MIRI branch, emicorr on): ``_rateints``,
* calwebb_spec2 (MIR_LRS-SLITLESS): ``_calints`` and ``_x1dints``,
* calwebb_tso3 through the level-3 TSO association that the association rules
  (``Asn_Lv3TSO``) make from a pool of the exposure: ``_crfints``, ``_x1dints`` and
  ``_whtlt.ecsv`` (with ``pixel_replace`` when webbcal has that step),

all with ordinary CRDS selection offline. The white-light curve is then fitted with
the transit's known shape and free depth and baseline (:func:`fit_transit`), and so is
the light curve of each of ``nbins`` wavelength bins (the transmission spectrum). The
demo compares them with the truth: the white-light depth in units of its fitted
uncertainty, the reduced chi-square of the bin depths about the true bin depths, and
the out-of-transit scatter of the white light against the noise expected from the
simulation's rates, gains, read noise and frame time (:func:`expected_noise`, which
does not use the pipeline's error arrays). A PNG shows the white-light curve with the
fitted model and the transmission spectrum with the truth.

References
----------
JWST pipeline documentation: "calwebb_tso3", ``white_light``, ``extract_1d``; JDox
"MIRI LRS Time Series Observations".
Seager, S. & Mallen-Ornelas, G. 2003, ApJ 585, 1038 (transit shape).
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "PIXEL_REPLACE_STEPS",
    "LrsTsoDemoResult",
    "TransitFit",
    "expected_noise",
    "fit_transit",
    "run_lrs_tso_demo",
    "tso3_steps",
]

log = logging.getLogger(__name__)

#: calwebb_tso3 settings of ``pixel_replace`` when webbcal has that step (a one-line switch).
PIXEL_REPLACE_STEPS = {"pixel_replace": {"skip": False, "algorithm": "fit_profile"}}
#: Reference types the LRS time series does not use (N/A in the demo's context).
_NOT_APPLICABLE = (
    "superbias", "refpix", "sirskernel", "filteroffset", "regions", "wavelengthrange",
    "camera", "chromcorr", "collimator", "disperser", "fore", "fpa", "msa", "ote", "ifupost",
    "ifufore", "ifuslicer", "fflat", "sflat", "dflat", "area", "apcorr", "pastasoss",
    "specprofile", "speckernel", "psf",
)  # fmt: skip


@dataclass(frozen=True)
class TransitFit:
    """Least-squares fit of ``baseline * (1 - depth * s(t))`` with the shape ``s`` known.

    Attributes
    ----------
    depth, sigma : float
        Fitted depth and its 1-sigma uncertainty (covariance scaled by the residuals).
    baseline : float
        Out-of-transit flux, in the unit of the fitted flux.
    residual_rms : float
        RMS of the out-of-transit residuals (``n_out - 1`` degrees of freedom).
    n, n_out : int
        Points fitted, and those out of transit (``s == 0``).
    """

    depth: float
    sigma: float
    baseline: float
    residual_rms: float
    n: int
    n_out: int


def fit_transit(shape, flux) -> TransitFit:
    """Fit ``baseline * (1 - depth * shape)`` to ``flux`` by least squares.

    Parameters
    ----------
    shape : ndarray, shape (n,)
        The transit shape at each time, 0 out of transit, 1 at full depth.
    flux : ndarray, shape (n,)
        The light curve; NaN points are left out.

    Returns
    -------
    TransitFit

    Raises
    ------
    ValueError
        With fewer than 3 finite points, or no point in or out of transit.

    References
    ----------
    ``scipy.optimize.curve_fit`` (Levenberg-Marquardt; ``absolute_sigma=False``: the
    parameter covariance scaled by the reduced chi-square of the residuals).
    """
    from scipy.optimize import curve_fit

    shape, flux = np.asarray(shape, np.float64), np.asarray(flux, np.float64)
    ok = np.isfinite(flux) & np.isfinite(shape)
    s, f = shape[ok], flux[ok]
    if s.size < 3 or not (s > 0).any() or not (s == 0).any():
        raise ValueError(f"{s.size} finite points, {(s > 0).sum()} in transit: a transit fit "
                         "needs at least 3, some in and some out of transit")  # fmt: skip

    def model(x, baseline, depth):
        return baseline * (1.0 - depth * x)

    out = s == 0
    start = (float(np.mean(f[out])), float(1.0 - np.mean(f[s == s.max()]) / np.mean(f[out])))
    (baseline, depth), cov = curve_fit(model, s, f, p0=start)
    resid = f - model(s, baseline, depth)
    rms = float(np.sqrt(np.sum(resid[out] ** 2) / max(out.sum() - 1, 1)))
    return TransitFit(depth=float(depth), sigma=float(np.sqrt(cov[1, 1])),
                      baseline=float(baseline), residual_rms=rms, n=int(s.size),
                      n_out=int(out.sum()))  # fmt: skip


@dataclass(frozen=True)
class LrsTsoDemoResult:
    """What the LRS time-series demo wrote and measured.

    Attributes
    ----------
    uncal, rateints, calints, asn, crfints, x1dints, whtlt, plot : Path
        The simulated raw exposure, the products of each stage, and the PNG.
    crds_path : Path
        The local CRDS cache the steps selected their references from.
    nints, ngroups : int
    white : TransitFit
        The white-light fit (flux in Jy).
    white_truth : float
        True white-light depth (flux-weighted mean of the depth over the rows summed).
    bin_wavelength : ndarray, shape (nbins,)
        Mean wavelength of each bin, micron.
    bin_depth, bin_sigma, bin_truth : ndarray, shape (nbins,)
        Fitted depths, their uncertainties and the true (flux-weighted) depths.
    chi2_bins : float
        Reduced chi-square of the bin depths about the truth (``nbins`` degrees of
        freedom: nothing is fitted to the truth).
    expected_sigma : float
        White-light noise per integration expected from the simulated rates (Jy).
    bin_scatter_ratio : float
        RMS over bins and out-of-transit integrations of (residual / expected noise)
        (``n_out - 1`` degrees of freedom per bin).
    pixel_replace : bool
        Whether calwebb_tso3 ran pixel_replace.
    timings : dict of str to float
        Wall-clock seconds of each stage.
    """

    uncal: Path
    rateints: Path
    calints: Path
    asn: Path
    crfints: Path
    x1dints: Path
    whtlt: Path
    plot: Path
    crds_path: Path
    nints: int
    ngroups: int
    white: TransitFit
    white_truth: float
    bin_wavelength: np.ndarray
    bin_depth: np.ndarray
    bin_sigma: np.ndarray
    bin_truth: np.ndarray
    chi2_bins: float
    expected_sigma: float
    bin_scatter_ratio: float
    pixel_replace: bool
    timings: dict

    @property
    def depth_pull(self) -> float:
        """(fitted - true white-light depth) / fitted sigma."""
        return (self.white.depth - self.white_truth) / self.white.sigma

    @property
    def scatter_ratio(self) -> float:
        """Out-of-transit white-light RMS over the expected photon + read noise."""
        return self.white.residual_rms / self.expected_sigma

    def __str__(self) -> str:
        w = self.white
        t = self.timings
        stages = ", ".join(f"{k} {v:.1f} s" for k, v in t.items())
        stat = 1.0 / np.sqrt(2.0 * max(w.n_out - 1, 1))
        return "\n".join([
            f"webbcal demo, MIRI LRS slitless time series ({self.nints} integrations x "
            f"{self.ngroups} groups, SLITLESSPRISM FASTR1)",
            f"  raw exposure : {self.uncal}",
            f"  stage 1      : {self.rateints.name}",
            f"  stage 2      : {self.calints.name}, x1dints",
            f"  stage 3      : {self.asn.name} -> {self.crfints.name}, {self.x1dints.name}, "
            f"{self.whtlt.name} (pixel_replace {'on' if self.pixel_replace else 'off'})",
            f"  picture      : {self.plot}",
            f"  white-light depth : {1e6 * w.depth:.1f} +- {1e6 * w.sigma:.1f} ppm; truth "
            f"{1e6 * self.white_truth:.1f} ppm ({self.depth_pull:+.2f} sigma)",
            f"  spectrum     : {self.bin_depth.size} bins, chi2/N of the depths about the "
            f"truth {self.chi2_bins:.2f} (N = {self.bin_depth.size})",
            f"  white-light scatter out of transit / expected photon + read noise: "
            f"{self.scatter_ratio:.3f} (+- {stat:.3f} statistical; {1e6 * w.residual_rms:.1f}"
            f" / {1e6 * self.expected_sigma:.1f} uJy); per bin: {self.bin_scatter_ratio:.3f}",
            f"  run times    : {stages}; total {sum(t.values()):.1f} s",
        ])  # fmt: skip


def tso3_steps(pixel_replace: bool | None = None) -> dict:
    """calwebb_tso3 step settings: pixel_replace on when asked, or (None) when known.

    Returns
    -------
    dict
        :data:`PIXEL_REPLACE_STEPS` or an empty dict.
    """
    from .stpipe.registry import STEPS

    use = "pixel_replace" in STEPS if pixel_replace is None else pixel_replace
    return dict(PIXEL_REPLACE_STEPS) if use else {}


def _context(crds_path: Path, refs: dict[str, Path], subarray: str) -> str:
    from .crds_client import RmapEntry, write_local_context
    from .demo import DEMO_CONTEXT_NUMBER, DEMO_PARKEYS

    entries = [
        RmapEntry(instrument="MIRI", reftype=reftype, parkeys=DEMO_PARKEYS,
                  selections={("MIRIMAGE", subarray): [("2022-01-01 00:00:00", str(path))]},
                  comment="webbcal demo reference (simulated MIRI LRS time series)")
        for reftype, path in sorted(refs.items())
    ]  # fmt: skip
    return write_local_context(crds_path, entries, context_number=DEMO_CONTEXT_NUMBER,
                               not_applicable={"MIRI": list(_NOT_APPLICABLE)})  # fmt: skip


def _tso_association(calints: Path) -> Path:
    """The level-3 TSO association (rule Asn_Lv3TSO) of one calints, beside it."""
    from .associations.asn import write_association
    from .associations.generate import generate
    from .associations.make_pool import make_pool

    pool = make_pool([os.fspath(calints)])
    for row in pool.rows:
        # Pools made by DMS write booleans as t/f; a header gives "true".
        row["tsovisit"] = "t" if row.get("tsovisit") in ("t", "true") else "f"
    (asn,) = [a for a in generate(pool) if a.to_dict()["asn_type"] == "tso3"]
    data = asn.to_dict()
    for product in data["products"]:
        for member in product["members"]:
            member["expname"] = os.path.basename(member["expname"])
    return Path(write_association(data, calints.parent / f"{asn.asn_name()}.json"))


def run_lrs_tso_demo(
    out: str | os.PathLike = "webbcal_demo",
    *,
    nints: int = 50,
    ngroups: int = 10,
    nbins: int = 10,
    seed: int = 1,
    pixel_replace: bool | None = None,
    progress: bool = False,
) -> LrsTsoDemoResult:
    """Simulate a MIRI LRS transit from raw ramps, run stages 1-3, fit the transit.

    Parameters
    ----------
    out : path
        Output folder; everything goes to ``<out>/lrs_tso`` (its own CRDS cache in
        ``crds_cache``).
    nints, ngroups : int
        Integrations and groups of the simulated exposure.
    nbins : int
        Wavelength bins of the transmission spectrum (equal numbers of rows).
    seed : int
        Seed of the detector and of all noise.
    pixel_replace : bool or None
        Run calwebb_tso3's pixel_replace; None: when webbcal has the step.
    progress : bool
        calwebb_detector1's progress display.

    Returns
    -------
    LrsTsoDemoResult
    """
    from astropy.table import QTable
    from stdatamodels.jwst import datamodels as dm

    from .crds_client import crds_environment
    from .pipeline import Detector1Pipeline
    from .pipeline.spec2 import Spec2Pipeline
    from .pipeline.tso3 import Tso3Pipeline
    from .simulate.lrs_tso import simulate_lrs_tso

    root = Path(out).resolve() / "lrs_tso"
    root.mkdir(parents=True, exist_ok=True)
    crds_path = root / "crds_cache"
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    sim = simulate_lrs_tso(nints=nints, ngroups=ngroups, seed=seed)
    uncal = sim.save(root)
    refs = sim.write_references(crds_path / "references" / "jwst" / "miri")
    _context(crds_path, refs, sim.exposure.detector.subarray)
    timings["simulation"] = time.perf_counter() - clock
    steps3 = tso3_steps(pixel_replace)
    with crds_environment(crds_path):
        clock = time.perf_counter()
        Detector1Pipeline.call(os.fspath(uncal), output_dir=os.fspath(root), save_results=True,
                               progress=progress, steps={"emicorr": {"skip": False}})  # fmt: skip
        timings["calwebb_detector1"] = time.perf_counter() - clock
        clock = time.perf_counter()
        rateints = root / f"{sim.name}_rateints.fits"
        Spec2Pipeline.call(os.fspath(rateints), output_dir=os.fspath(root), save_results=True)
        timings["calwebb_spec2"] = time.perf_counter() - clock
        clock = time.perf_counter()
        calints = root / f"{sim.name}_calints.fits"
        asn = _tso_association(calints)
        Tso3Pipeline.call(os.fspath(asn), output_dir=os.fspath(root), save_results=True,
                          steps=steps3)  # fmt: skip
        timings["calwebb_tso3"] = time.perf_counter() - clock
    clock = time.perf_counter()
    (x1d_path,) = root.glob("*-o001_*_x1dints.fits")
    product = x1d_path.name.removesuffix("_x1dints.fits")
    whtlt = root / f"{product}_whtlt.ecsv"
    (crfints,) = root.glob("*_crfints.fits")
    table = QTable.read(whtlt, format="ascii.ecsv")
    with dm.open(os.fspath(x1d_path)) as x1d:
        start = float(x1d.meta.exposure.start_time)
        wave = np.concatenate([np.asarray(s.spec_table["WAVELENGTH"]) for s in x1d.spec])
        flux = np.concatenate([np.asarray(s.spec_table["FLUX"]) for s in x1d.spec])
    t = (np.asarray(table["MJD_UTC"], dtype=np.float64) - start) * 86400.0
    shape = sim.transit.shape(t)
    white = fit_transit(shape, np.asarray(table["whitelight_flux"], dtype=np.float64))
    truth_w = float(np.sum(sim.flux * sim.transit.depth_at(sim.wavelength)) / np.sum(sim.flux))
    bins = _bins(sim, nbins)
    spectrum = _spectrum(sim, bins, wave, flux, sim.transit.shape(sim.times))
    noise = expected_noise(sim, bins)
    ratio = _bin_scatter_ratio(spectrum["residuals"], noise["bins"], shape)
    plot = root / f"{product}_transit.png"
    _plot(plot, t, table["whitelight_flux"], white, sim, spectrum)
    timings["analysis"] = time.perf_counter() - clock
    return LrsTsoDemoResult(
        uncal=uncal, rateints=rateints, calints=calints, asn=asn, crfints=crfints,
        x1dints=x1d_path, whtlt=whtlt, plot=plot, crds_path=crds_path, nints=nints,
        ngroups=ngroups, white=white, white_truth=truth_w,
        bin_wavelength=spectrum["wavelength"], bin_depth=spectrum["depth"],
        bin_sigma=spectrum["sigma"], bin_truth=spectrum["truth"],
        chi2_bins=float(np.mean(((spectrum["depth"] - spectrum["truth"])
                                 / spectrum["sigma"]) ** 2)),
        expected_sigma=noise["white"], bin_scatter_ratio=ratio,
        pixel_replace=bool(steps3), timings=timings,
    )  # fmt: skip


def _bins(sim, nbins: int) -> list[np.ndarray]:
    """Row indices (into ``sim.rows``) of ``nbins`` contiguous bins of equal size."""
    if not 1 <= nbins <= sim.rows.size:
        raise ValueError(f"nbins={nbins!r}: expected 1..{sim.rows.size}")
    return np.array_split(np.arange(sim.rows.size), nbins)


def _spectrum(sim, bins, wave, flux, shape) -> dict:
    """Fit each bin's light curve; x1d elements join the bin whose true wavelengths they
    fall among (edges halfway between neighbouring rows)."""
    true_wave = sim.wavelength
    depth, sigma, truth, centre, resid = [], [], [], [], []
    for idx in bins:
        lo, hi = np.sort(true_wave[[idx[0], idx[-1]]])
        pad = 0.5 * np.min(np.abs(np.diff(true_wave)))
        inside = (wave >= lo - pad) & (wave <= hi + pad)
        curve = np.nansum(np.where(inside, flux, np.nan), axis=1)
        fit = fit_transit(shape, curve)
        depth.append(fit.depth)
        sigma.append(fit.sigma)
        resid.append(curve - fit.baseline * (1.0 - fit.depth * shape))
        f = sim.flux[idx]
        truth.append(float(np.sum(f * sim.transit.depth_at(true_wave[idx])) / np.sum(f)))
        centre.append(float(np.mean(true_wave[idx])))
    return {"depth": np.array(depth), "sigma": np.array(sigma), "truth": np.array(truth),
            "wavelength": np.array(centre), "residuals": np.array(resid)}  # fmt: skip


def _bin_scatter_ratio(residuals: np.ndarray, expected: np.ndarray, shape: np.ndarray) -> float:
    """RMS of the out-of-transit residuals over the expected noise, pooled over the bins
    (``n_out - 1`` degrees of freedom per bin, as for the white light)."""
    out = shape == 0
    chi2 = np.sum((residuals[:, out] / expected[:, None]) ** 2)
    return float(np.sqrt(chi2 / (expected.size * max(int(out.sum()) - 1, 1))))


def expected_noise(sim, bins: list[np.ndarray] | None = None) -> dict:
    """Out-of-transit noise (Jy) of the white light and of each bin, from the simulation.

    Each pixel's ramp slope has the variance of :func:`~webbcal.simulate.lrs_tso.
    expected_slope_variance` for its true rate (source + sky + dark current, DN/s), gain,
    read noise and the usable groups of the integration (the MIRI branch flags the
    leading RSCD groups and the last group DO_NOT_USE:
    :func:`webbcal.demo.miri_unusable_groups`). The flat field divides it
    (``flat = response * gain_ref / gain``), the box extraction adds the source columns
    and subtracts the mean of the background columns times their number, and photom
    multiplies each row by ``1e6 * PIXAR_SR * PHOTMJSR * relresponse(lambda)`` (Jy per
    DN/s). Pixels DO_NOT_USE in the MASK reference are left out. The variance is
    averaged over the out-of-transit integrations.

    Parameters
    ----------
    sim : webbcal.simulate.lrs_tso.SimulatedLrsTso
    bins : list of ndarray, optional
        Indices into ``sim.rows`` of each wavelength bin.

    Returns
    -------
    dict
        ``"white"``: float, Jy; ``"bins"``: ndarray (len(bins),), Jy.
    """
    from .demo import miri_unusable_groups
    from .dqflags import DO_NOT_USE
    from .simulate.lrs import true_relative_response
    from .simulate.lrs_tso import aperture_columns, expected_slope_variance

    det = sim.exposure.detector
    exp = sim.exposure.model.meta.exposure
    src_cols, bkg_cols = aperture_columns(sim.extract)
    rows = sim.rows
    good = (det.mask_dq & DO_NOT_USE) == 0
    flat = np.where(det.response > 0, det.response * sim.gain_ref / det.gain, 1.0)
    raw = (sim.source + sim.background) * det.response * sim.gain_ref / det.gain + det.dark_rate
    rn = det.frame_readnoise(exp.readpatt)
    usable = (~miri_unusable_groups(sim.exposure)).sum(axis=1)
    out = sim.transit.shape(sim.times) == 0
    per_row = np.zeros(rows.size)
    for n in usable[out]:
        var = expected_slope_variance(raw, det.gain, rn / np.sqrt(2.0), rn, exp.group_time,
                                      int(n)) / flat**2  # fmt: skip
        var = np.where(good, var, 0.0)[rows]
        n_src = good[rows][:, src_cols].sum(axis=1)
        n_bkg = good[rows][:, bkg_cols].sum(axis=1)
        var_bkg = var[:, bkg_cols].sum(axis=1) / np.maximum(n_bkg, 1) ** 2
        per_row += var[:, src_cols].sum(axis=1) + n_src**2 * var_bkg
    per_row /= max(int(out.sum()), 1)
    jy = 1e6 * sim.pixar_sr * sim.photmjsr * true_relative_response(sim.wavelength)
    per_row *= jy**2
    bins = bins or [np.arange(rows.size)]
    return {"white": float(np.sqrt(per_row.sum())),
            "bins": np.array([np.sqrt(per_row[idx].sum()) for idx in bins])}  # fmt: skip


def _plot(path: Path, t, white_flux, fit: TransitFit, sim, spectrum: dict) -> None:
    """White-light curve with the fitted and true models; transmission spectrum."""
    from .tools.quicklook import _figure, _save_png

    fig = _figure((900, 800))
    ax1, ax2 = fig.add_subplot(2, 1, 1), fig.add_subplot(2, 1, 2)
    flux = np.asarray(white_flux, dtype=np.float64) / fit.baseline
    ax1.plot(t, flux, "o", ms=3, color="k", label="white light (calwebb_tso3 whtlt)")
    tt = np.linspace(t.min(), t.max(), 1000)
    s = sim.transit.shape(tt)
    truth_depth = float(np.sum(sim.flux * sim.transit.depth_at(sim.wavelength))
                        / np.sum(sim.flux))  # fmt: skip
    ax1.plot(tt, 1.0 - fit.depth * s, "-", color="C0",
             label=f"fit: depth {1e6 * fit.depth:.0f} +- {1e6 * fit.sigma:.0f} ppm")  # fmt: skip
    ax1.plot(tt, 1.0 - truth_depth * s, "--", color="C3",
             label=f"truth: {1e6 * truth_depth:.0f} ppm")  # fmt: skip
    ax1.set_title("Simulated MIRI LRS slitless transit: white light", fontsize=10)
    ax1.set_xlabel("time since exposure start (s)")
    ax1.set_ylabel("relative flux")
    ax1.legend(loc="lower left", fontsize=8)
    wl = np.linspace(sim.wavelength.min(), sim.wavelength.max(), 400)
    ax2.plot(wl, 1e6 * sim.transit.depth_at(wl), "-", color="C3", label="true depth")
    ax2.plot(spectrum["wavelength"], 1e6 * spectrum["truth"], "s", mfc="none", color="C3",
             label="true bin depth")  # fmt: skip
    ax2.errorbar(spectrum["wavelength"], 1e6 * spectrum["depth"], yerr=1e6 * spectrum["sigma"],
                 fmt="o", color="k", ms=4, label="fitted bin depth")  # fmt: skip
    ax2.set_title(f"Transmission spectrum ({len(spectrum['depth'])} bins)", fontsize=10)
    ax2.set_xlabel("wavelength (micron)")
    ax2.set_ylabel("transit depth (ppm)")
    ax2.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    _save_png(fig, os.fspath(path))
