"""Remove 1/f (flicker) noise from ramps, rate images and rateints cubes.

For every image to clean -- a rate image, each integration of a rateints cube, or each
difference of consecutive groups of a ramp -- the background (a median or a smooth model) is
removed, the background mask is refined by clipping, the 1/f noise is fitted along the
fast-read direction on the background pixels (:mod:`~webbcal.clean_flicker_noise.noise_fit`),
subtracted, and the background restored. Ramps are rebuilt by adding the cleaned group
differences to the (cleaned) previous group, so the first group keeps its noise, which cancels
in the slope. The scene mask comes from a first-pass rate (:func:`draft_rate`) clipped with
:func:`~webbcal.clean_flicker_noise.background.scene_mask`.

References
----------
JWST pipeline documentation, "clean_flicker_noise" step (algorithm and options).
Rauscher 2024, PASP 136, 015001 (NSClean). Willott 2022, "image1overf".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from webbcal import dqflags
from webbcal.clean_flicker_noise.background import background_level, clip_to_background
from webbcal.clean_flicker_noise.noise_fit import ReadoutLayout, noise_model

__all__ = [
    "FlickerParameters",
    "FlickerResult",
    "clean_flicker_noise",
    "clean_image",
    "draft_rate",
]

log = logging.getLogger(__name__)

_UNUSABLE = dqflags.DO_NOT_USE | dqflags.JUMP_DET


@dataclass(frozen=True)
class FlickerParameters:
    """Options of the 1/f fit (names and meaning of the ``clean_flicker_noise`` step).

    Attributes
    ----------
    fit_method : {"median", "fft"}
        Row medians, or a low-pass Fourier fit of each row.
    fit_by_channel : bool
        Fit each output's row segments separately.
    background_method : {"median", "model", None}
        Background removed before the fit and restored after it.
    background_box_size : (int, int) or None
        Box of the ``"model"`` background.
    n_sigma : float
        Clipping limit (sigma) that removes residual signal from the background mask after
        the background is subtracted (0: no clipping).
    iterations : int
        Noise fits per image. The official step fits once (1); with 2 or more, the clipping
        is redone on the image with the previous noise model removed, so that bright
        stripes do not lose their upper tail to the clip (which biases their fitted level
        towards zero).
    """

    fit_method: str = "median"
    fit_by_channel: bool = False
    background_method: str | None = "median"
    background_box_size: tuple[int, int] | None = None
    n_sigma: float = 2.0
    iterations: int = 1

    def __post_init__(self) -> None:
        if self.fit_method not in ("median", "fft"):
            raise ValueError(
                f"fit_method={self.fit_method!r} is not valid; expected 'median' or 'fft'"
            )
        if self.background_method not in ("median", "model", None):
            raise ValueError(
                f"background_method={self.background_method!r} is not valid; expected "
                "'median', 'model' or None"
            )
        box = self.background_box_size
        if box is not None and (len(box) != 2 or min(int(b) for b in box) < 1):
            raise ValueError(
                f"background_box_size={box!r} is not valid; expected two positive integers"
            )
        if not (isinstance(self.iterations, int) and self.iterations >= 1):
            raise ValueError(f"iterations={self.iterations!r} is not valid; expected an int >= 1")
        if not self.n_sigma >= 0:
            raise ValueError(f"n_sigma={self.n_sigma!r} is not valid; expected a value >= 0")


@dataclass(frozen=True)
class FlickerResult:
    """Output of :func:`clean_flicker_noise`.

    Attributes
    ----------
    data : ndarray, float32
        Cleaned data, shape of the input.
    background : ndarray, float32, or None
        Background removed and restored around each fit (shape of ``data``; first group of a
        ramp 0), when requested.
    n_cleaned, n_unusable : int
        Images cleaned, and images left unchanged because no background pixel was usable.
    """

    data: np.ndarray
    background: np.ndarray | None
    n_cleaned: int
    n_unusable: int


def clean_image(
    image: np.ndarray,
    mask: np.ndarray,
    layout: ReadoutLayout,
    *,
    params: FlickerParameters,
    flat: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | float] | None:
    """Clean one image of 1/f noise.

    Parameters
    ----------
    image : ndarray, shape (ny, nx), float
        A rate image, one integration's rate, or one group difference (DN or DN/s).
    mask : ndarray, shape (ny, nx), bool
        True for background pixels.
    layout : ReadoutLayout
        Readout orientation and outputs of the image.
    params : FlickerParameters
    flat : ndarray, shape (ny, nx), float, optional
        Flat field divided into the image before the fits and multiplied back after.

    Returns
    -------
    (cleaned, background) or None
        The cleaned image (float32, NaN where the input is NaN) and the background level
        (float or float64 array); None when no background pixel is usable.
    """
    image = np.array(image, dtype=np.float32)
    if flat is not None:
        image /= flat
    nan = np.isnan(image)
    image[nan] = 0.0
    mask = np.asarray(mask, dtype=bool) & ~nan
    if not mask.any():
        return None
    background, mask = background_level(
        image, mask, method=params.background_method, box_size=params.background_box_size
    )
    bkg_sub = image - background
    clip = params.background_method is not None and params.n_sigma > 0
    noise = 0.0
    for _ in range(params.iterations):
        use = mask
        if clip:
            use = clip_to_background(bkg_sub - noise, mask, sigma_lower=params.n_sigma,
                                     sigma_upper=params.n_sigma, lower_half_only=True)  # fmt: skip
        noise = noise_model(bkg_sub, use, layout, method=params.fit_method,
                            by_channel=params.fit_by_channel)  # fmt: skip
    cleaned = (bkg_sub - noise + background).astype(np.float32)
    if flat is not None:
        cleaned *= flat
    cleaned[nan] = np.nan
    return cleaned, background


def clean_flicker_noise(
    data: np.ndarray,
    mask: np.ndarray,
    layout: ReadoutLayout,
    *,
    params: FlickerParameters,
    groupdq: np.ndarray | None = None,
    flat: np.ndarray | None = None,
    keep_background: bool = False,
) -> FlickerResult:
    """Clean a rate image, a rateints cube or a ramp of 1/f noise.

    Parameters
    ----------
    data : ndarray, float
        Rate ``(ny, nx)``, rateints ``(nints, ny, nx)`` or ramp ``(nints, ngroups, ny, nx)``.
    mask : ndarray of bool, shape (ny, nx) or (nints, ny, nx)
        Background pixels (one mask, or one per integration).
    layout : ReadoutLayout
        Readout orientation and outputs.
    params : FlickerParameters
    groupdq : ndarray of uint8, shape of a ramp ``data``, optional
        Group DQ of a ramp: a difference does not use pixels whose later group is DO_NOT_USE
        or JUMP_DET.
    flat : ndarray, shape (ny, nx), optional
        Flat field applied around the fits.
    keep_background : bool
        Return the background of every image in the result.

    Returns
    -------
    FlickerResult

    Raises
    ------
    ValueError
        If ``data`` is not 2-, 3- or 4-D, or ``mask`` / ``groupdq`` do not match it.
    """
    data = np.asarray(data)
    if data.ndim not in (2, 3, 4):
        raise ValueError(f"data has shape {data.shape}; expected 2, 3 or 4 dimensions")
    mask = np.asarray(mask, dtype=bool)
    nints = 1 if data.ndim == 2 else data.shape[0]
    if (
        mask.shape[-2:] != data.shape[-2:]
        or mask.ndim not in (2, 3)
        or (mask.ndim == 3 and mask.shape[0] != nints)
    ):
        raise ValueError(f"mask has shape {mask.shape}; expected {data.shape[-2:]} or "
                         f"{(nints,) + data.shape[-2:]}")  # fmt: skip
    if groupdq is not None and np.shape(groupdq) != data.shape:
        raise ValueError(f"groupdq has shape {np.shape(groupdq)}; expected {data.shape}")
    out = np.array(data, dtype=np.float32)
    background = np.zeros(out.shape, np.float32) if keep_background else None
    cube = out.reshape((nints, -1) + data.shape[-2:])
    bkg_cube = None if background is None else background.reshape(cube.shape)
    raw = np.array(cube) if data.ndim == 4 else cube
    dq = None if groupdq is None else np.asarray(groupdq).reshape(cube.shape)
    n_done = n_bad = 0
    for i in range(nints):
        int_mask = mask[i] if mask.ndim == 3 else mask
        for j in range(cube.shape[1] - 1 if data.ndim == 4 else 1):
            if data.ndim == 4:
                image = raw[i, j + 1] - raw[i, j]
                use = int_mask if dq is None else int_mask & ((dq[i, j + 1] & _UNUSABLE) == 0)
                target = j + 1
            else:
                image, use, target = raw[i, 0], int_mask, 0
            result = clean_image(image, use, layout, params=params, flat=flat)
            if result is None:
                log.warning("No usable background in integration %d, group %d; not cleaned",
                            i + 1, target + 1)  # fmt: skip
                n_bad += 1
                if data.ndim == 4:
                    # Keep this difference as it was, on top of the cleaned previous group.
                    cube[i, target] = cube[i, j] + image
                continue
            cleaned, bkg = result
            cube[i, target] = cube[i, j] + cleaned if data.ndim == 4 else cleaned
            if bkg_cube is not None:
                bkg_cube[i, target] = bkg
            n_done += 1
    return FlickerResult(out, background, n_done, n_bad)


def draft_rate(
    data: np.ndarray,
    groupdq: np.ndarray,
    pixeldq: np.ndarray,
    *,
    frame_time: float,
    group_time: float,
    nframes: int,
    groupgap: int,
    per_integration: bool = False,
) -> np.ndarray:
    """First-pass count rate of a ramp, used only to find the scene.

    The ramps are fitted with :func:`webbcal.ramp_fitting.ols.fit_ramps` (jumps and
    DO_NOT_USE groups respected) with unit gain and a uniform read noise estimated from the
    median absolute deviation of the first group differences: the slopes are unbiased and
    the weights only need to be roughly right to locate sources.

    Parameters
    ----------
    data : ndarray, shape (nints, ngroups, ny, nx), float, DN
    groupdq : ndarray, shape of ``data``, uint8
    pixeldq : ndarray, shape (ny, nx), uint32
    frame_time, group_time : float, s
    nframes, groupgap : int
    per_integration : bool
        Return the rate of each integration (nints, ny, nx) instead of the exposure's.

    Returns
    -------
    ndarray, float32, DN/s
        NaN where no rate could be measured.
    """
    from webbcal.ramp_fitting.ols import fit_ramps

    data = np.asarray(data, dtype=np.float32)
    ny, nx = data.shape[-2:]
    readnoise = 10.0
    if data.shape[1] > 1:
        diff = data[0, 1] - data[0, 0]
        good = np.isfinite(diff) & ((np.asarray(groupdq)[0, 1] & _UNUSABLE) == 0)
        if good.any():
            d = diff[good]
            mad = 1.4826 * float(np.median(np.abs(d - np.median(d))))
            readnoise = max(mad * np.sqrt(nframes), 1e-3)
    result = fit_ramps(
        data, groupdq, pixeldq,
        np.full((ny, nx), readnoise, np.float32), np.ones((ny, nx), np.float32),
        frame_time=frame_time, group_time=group_time, nframes=nframes, groupgap=groupgap,
    )  # fmt: skip
    return result.slope_ints if per_integration else result.slope
