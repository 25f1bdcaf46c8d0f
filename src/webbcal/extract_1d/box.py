"""Box extraction of spectra, vectorised over integrations: apertures and sums.

Arrays are *oriented*: the last axis runs across the dispersion (cross-dispersion pixel
``c``), the one before along it (dispersion element ``d``): a MIRI LRS image (DISPAXIS=2,
rows along the dispersion) is used as stored, ``(nints, ny, nx)``; a horizontally
dispersed one is transposed by the caller.

Aperture weights (:func:`box_weights`): 1 for pixels wholly inside inclusive limits, the
covered fraction for pixels cut by a fractional limit, 0 outside; limits from polynomial
coefficients (``src_coeff``/``bkg_coeff``: 0 at a pixel's centre, so the inclusive pixel
limits are ``lower + 0.5`` and ``upper - 0.5``), else an ``extract_width`` centred between
the start/stop values, else the start/stop values. Along the dispersion, elements outside
the start/stop values get no weight.

Background (:func:`extract_box`): for each integration and dispersion element, a
least-squares polynomial of order ``bkg_order`` in the cross-dispersion coordinate scaled
to [-1, 1] through the background pixels (``poly``; order 0 is their mean), or their
median (``median``); it is evaluated on the source aperture and subtracted. The
variances of the background estimate are propagated linearly (for the median: the mean's
variance times 1.2**2, the official approximation of the median's efficiency).

The sums: ``flux = sum(w * (data - bkg))`` over the finite pixels of the aperture,
``npixels = sum(w)``, ``var = sum(w**2 * var) + var(bkg)``.

References
----------
JWST pipeline documentation, ``extract_1d`` step: "Box extraction", "Background
subtraction" (``bkg_fit``, ``bkg_order``, ``smoothing_length``), "Extraction apertures"
(``xstart``... and ``src_coeff``/``bkg_coeff`` conventions).

Horne, K. 1986, PASP 98, 609 (box sums and their variances, for comparison with optimal
extraction).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

__all__ = ["BoxResult", "box_weights", "extract_box", "limits_to_weights"]

# Background normal matrices with a larger condition number give no background.
_MAX_CONDITION = 1e10
# Variance of a median relative to a mean of the same pixels (official approximation).
_MEDIAN_EFFICIENCY = 1.2


def limits_to_weights(
    weights: np.ndarray,
    index: np.ndarray,
    lower,
    upper,
    *,
    partial: bool = True,
) -> None:
    """Raise ``weights`` to the coverage of pixels by inclusive limits ``[lower, upper]``.

    Fills ``weights`` in place (the caller's own array): whole pixels get 1, pixels cut
    by a fractional limit the covered fraction when it is larger than their weight.

    Parameters
    ----------
    weights : ndarray, float64
        Aperture weights, updated in place.
    index : ndarray of int
        Cross-dispersion pixel index of each element of ``weights``.
    lower, upper : float or ndarray
        Inclusive limits (broadcast against ``weights``).
    partial : bool, optional
        False: only whole pixels (median background).
    """
    weights[(index >= lower) & (index <= upper)] = 1.0
    if not partial:
        return
    for frac in (index - lower + 1.0, upper - index + 1.0):
        frac = np.broadcast_to(frac, weights.shape)
        cut = (frac > 0) & (frac < 1) & (weights < frac)
        weights[cut] = frac[cut]


def _polynomial(coeffs, x):
    out = np.zeros_like(x, dtype=np.float64)
    for c in reversed(coeffs):
        out = out * x + c
    return out


def box_weights(
    shape: tuple[int, int],
    *,
    disp_limits: tuple[float, float],
    cross_limits: tuple[float, float],
    coefficients: tuple | None = None,
    extract_width: float | None = None,
    independent: np.ndarray | None = None,
    partial: bool = True,
) -> tuple[np.ndarray, float, float]:
    """Aperture weights of one spectrum on an oriented image.

    Parameters
    ----------
    shape : tuple of int
        ``(ndisp, ncross)``.
    disp_limits, cross_limits : tuple of float
        0-based inclusive start/stop along and across the dispersion.
    coefficients : tuple of tuple of float or None
        Alternating lower/upper limit polynomials (lowest order first); they override
        ``extract_width`` and ``cross_limits``.
    extract_width : float or None
        Aperture width (pixels) centred between ``cross_limits``.
    independent : ndarray, shape (ndisp, ncross), or None
        Variable of the polynomials (wavelength); None: the dispersion pixel index.
    partial : bool, optional
        Fractional weights at fractional limits.

    Returns
    -------
    tuple
        ``(weights, lower, upper)``: float64 weights of shape ``shape``; mean inclusive
        cross-dispersion limits (for the product's EXTR*STR/STP keywords).

    Raises
    ------
    ValueError
        If ``coefficients`` does not hold pairs of limits.
    """
    ndisp, ncross = shape
    d_idx, c_idx = np.mgrid[0:ndisp, 0:ncross]
    weights = np.zeros(shape, dtype=np.float64)
    if coefficients is not None:
        if len(coefficients) % 2:
            raise ValueError(
                f"coefficients has {len(coefficients)} lists; expected alternating lower "
                "and upper limits"
            )
        x = d_idx.astype(np.float32) if independent is None else independent
        lower = upper = None
        for lo_c, hi_c in zip(coefficients[::2], coefficients[1::2], strict=True):
            lo = _polynomial(lo_c, x) + 0.5
            hi = _polynomial(hi_c, x) - 0.5
            limits_to_weights(weights, c_idx, lo, hi, partial=partial)
            m_lo, m_hi = float(np.mean(lo)), float(np.mean(hi))
            lower = m_lo if lower is None else min(lower, m_lo)
            upper = m_hi if upper is None else max(upper, m_hi)
    elif extract_width is not None:
        middle = 0.5 * (cross_limits[0] + cross_limits[1])
        lower = middle - (extract_width - 1.0) / 2.0
        upper = lower + extract_width - 1.0
        limits_to_weights(weights, c_idx, lower, upper, partial=partial)
    else:
        lower, upper = cross_limits
        limits_to_weights(weights, c_idx, lower, upper, partial=partial)
    weights[: int(np.ceil(disp_limits[0]))] = 0.0
    weights[int(np.floor(disp_limits[1])) + 1 :] = 0.0
    return weights, float(lower), float(upper)


@dataclass(frozen=True)
class BoxResult:
    """Box sums per integration and dispersion element, shape (nints, ndisp), float64.

    ``flux`` is the background-subtracted sum (NaN where no pixel contributed),
    ``background`` the background summed over the aperture, ``var_*`` the variances of
    ``flux`` (background's included), ``bkg_var_*`` those of ``background``,
    ``npixels`` the summed weights.
    """

    flux: np.ndarray
    var_rnoise: np.ndarray
    var_poisson: np.ndarray
    var_flat: np.ndarray
    background: np.ndarray
    bkg_var_rnoise: np.ndarray
    bkg_var_poisson: np.ndarray
    bkg_var_flat: np.ndarray
    npixels: np.ndarray


def _smooth_along_dispersion(image: np.ndarray, length: int) -> np.ndarray:
    from astropy.convolution import convolve
    from astropy.utils.exceptions import AstropyUserWarning

    kernel = np.ones((length, 1)) / length
    with warnings.catch_warnings():
        # Runs of NaN longer than the kernel stay NaN (rows without data): expected.
        warnings.simplefilter("ignore", AstropyUserWarning)
        return np.stack([convolve(frame, kernel, boundary="extend") for frame in image])


def _nansum_of_product(v, a, b, buf):
    """``np.nansum(v * a * b, axis=-1)`` (same operations, same order), computed in the
    work array ``buf`` (shape of ``v``) instead of three new temporaries."""
    np.multiply(v, a, out=buf)
    if b is not None:
        np.multiply(buf, b, out=buf)
    np.copyto(buf, 0.0, where=np.isnan(buf))
    return buf.sum(axis=-1)


def _poly_background(image, used, weights, profile, order, variances):
    """Per (integration, element) least-squares polynomial; evaluated map and variances
    (None for a variance given as None)."""
    ncross = image.shape[-1]
    y = np.linspace(-1.0, 1.0, ncross)
    mask = used & weights  # (n, d, c)
    if order == 0:
        mask = mask.astype(np.float64)
        target = np.where(used, image, 0.0)
        np.multiply(target, weights, out=target)
        normal = mask.sum(-1)  # (n, d)
        ok = normal > 0
        cov = np.where(ok, 1.0 / np.where(ok, normal, 1.0), 0.0)
        coef = cov * target.sum(-1)
        bkg2d = np.broadcast_to(coef[..., None], image.shape)
        # d bkg_sum / d pixel = (sum of aperture weights) * w * used / n
        gain = np.multiply(profile.sum(-1)[None, :, None], mask, out=target)
        np.multiply(gain, cov[..., None], out=gain)
        buf = mask
    else:
        basis = np.stack([y**k for k in range(order + 1)], axis=-1)  # (ncross, K)
        mask = mask.astype(np.float64)
        target = np.where(used, image, 0.0) * weights
        bkg2d, gain = _poly_fit(mask, target, basis, profile)
        buf = target
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        bvars = [None if v is None else _nansum_of_product(v, gain, gain, buf)
                 for v in variances]  # fmt: skip
    return bkg2d, bvars


def _poly_background_strided(image, used, weights, profile, order, variances):
    """As :func:`_poly_background`, with numpy's own temporaries (their memory order
    follows strided inputs)."""
    ncross = image.shape[-1]
    y = np.linspace(-1.0, 1.0, ncross)
    basis = np.stack([y**k for k in range(order + 1)], axis=-1)  # (ncross, K)
    mask = (used & weights).astype(np.float64)  # (n, d, c)
    target = np.where(used, image, 0.0) * weights
    if order == 0:
        normal = mask.sum(-1)  # (n, d)
        ok = normal > 0
        cov = np.where(ok, 1.0 / np.where(ok, normal, 1.0), 0.0)
        coef = cov * target.sum(-1)
        bkg2d = np.broadcast_to(coef[..., None], image.shape)
        # d bkg_sum / d pixel = (sum of aperture weights) * w * used / n
        gain = profile.sum(-1)[None, :, None] * mask * cov[..., None]
    else:
        bkg2d, gain = _poly_fit(mask, target, basis, profile)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        bvars = [np.nansum(v * gain * gain, axis=-1) for v in variances]
    return bkg2d, bvars


def _box_result(flux, fvars, background, bvars, npix, zeros) -> BoxResult:
    """The :class:`BoxResult` of the sums, every array of shape (nints, ndisp); the flux is
    NaN where the aperture holds no pixel (``npix`` 0); a background variance given as a
    scalar or per-element array is broadcast with ``zeros``."""
    flux[np.isclose(npix, 0.0)] = np.nan
    return BoxResult(
        flux=flux, var_rnoise=fvars[0], var_poisson=fvars[1], var_flat=fvars[2],
        background=background, bkg_var_rnoise=np.asarray(bvars[0]) + zeros,
        bkg_var_poisson=np.asarray(bvars[1]) + zeros, bkg_var_flat=np.asarray(bvars[2]) + zeros,
        npixels=npix,
    )  # fmt: skip


def _checked_arrays(data, profile):
    """The science cube and the aperture profile as float64, their shapes checked.

    Raises
    ------
    ValueError
        If ``data`` is not (nints, ndisp, ncross) or ``profile`` not (ndisp, ncross).
    """
    img = np.asarray(data, dtype=np.float64)
    if img.ndim != 3 or np.shape(profile) != img.shape[1:]:
        raise ValueError(
            f"data has shape {img.shape} and profile {np.shape(profile)}; expected "
            "(nints, ndisp, ncross) and (ndisp, ncross)"
        )
    return img, np.asarray(profile, dtype=np.float64)


def _background_source(img, bkg_fit, bkg_order, smoothing_length):
    """The image the background is fitted to (smoothed along the dispersion when
    ``smoothing_length > 1``), the background parameters checked.

    Raises
    ------
    ValueError
        For an unknown ``bkg_fit``, a negative or fractional ``bkg_order``, or an even
        ``smoothing_length``.
    """
    if bkg_fit not in ("poly", "median"):
        raise ValueError(f"bkg_fit={bkg_fit!r}: expected 'poly' or 'median'")
    if int(bkg_order) != bkg_order or bkg_order < 0:
        raise ValueError(f"bkg_order={bkg_order!r}: expected an integer >= 0")
    if smoothing_length > 1:
        if smoothing_length % 2 == 0:
            raise ValueError(f"smoothing_length={smoothing_length}: expected an odd integer")
        return _smooth_along_dispersion(img, int(smoothing_length))
    return img


def _poly_fit(mask, target, basis, profile):
    """Per-column least-squares polynomial background of order > 0 and its gain.

    Parameters
    ----------
    mask : ndarray, shape (n, d, c), float64
        1.0 where a cross-dispersion pixel is used in the fit, else 0.0.
    target : ndarray, shape (n, d, c), float64
        The weighted pixel values of the fit (0 where unused).
    basis : ndarray, shape (c, K), float64
        The polynomial basis over the cross-dispersion pixels.
    profile : ndarray, shape (d, c)
        The aperture weights.

    Returns
    -------
    bkg2d : ndarray, shape (n, d, c)
        The fitted background.
    gain : ndarray, shape (n, d, c)
        Derivative of the aperture's background sum with respect to each pixel (for the
        variance of the background sum). Columns whose normal matrix is singular (condition
        number above ``_MAX_CONDITION``) get no fit.
    """
    design = mask[..., None] * basis  # (n, d, c, K)
    normal = np.einsum("ndck,ndcj->ndkj", design, design)
    rhs = np.einsum("ndck,ndc->ndk", design, target)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ok = np.linalg.cond(normal) < _MAX_CONDITION
    cov = np.zeros_like(normal)
    if np.any(ok):
        cov[ok] = np.linalg.inv(normal[ok])
    coef = np.einsum("ndkj,ndj->ndk", cov, rhs)
    bkg2d = np.einsum("ck,ndk->ndc", basis, coef)
    aperture_basis = profile @ basis  # (d, K): basis summed over the aperture
    response = np.einsum("ndkj,ndcj->ndck", cov, design)  # d coef_k / d pixel_c
    gain = np.einsum("dk,ndck->ndc", aperture_basis, response)
    return bkg2d, gain


def _median_background(image, bg_profile, finite, profile, variances):
    masked = np.where(bg_profile != 0, image, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        level = np.nanmedian(masked, axis=-1)  # (n, d)
        npix = profile.sum(-1)[None, :]
        total = variances[0] + variances[1] + variances[2]
        good = finite & np.isfinite(total) & (bg_profile != 0)
        frac = good / good.sum(-1, keepdims=True)
        bvars = [_MEDIAN_EFFICIENCY**2 * npix**2 * np.nansum(v * frac * frac, axis=-1)
                 for v in variances]  # fmt: skip
    return np.broadcast_to(level[..., None], image.shape), bvars


def extract_box(
    data: np.ndarray,
    profile: np.ndarray,
    *,
    var_rnoise: np.ndarray | None = None,
    var_poisson: np.ndarray | None = None,
    var_flat: np.ndarray | None = None,
    bg_profile: np.ndarray | None = None,
    bkg_fit: str = "poly",
    bkg_order: int = 0,
    smoothing_length: int = 0,
) -> BoxResult:
    """Box-extract every integration of an oriented spectral image.

    Parameters
    ----------
    data : ndarray, shape (nints, ndisp, ncross)
        Surface brightness (or count rate); NaN pixels are left out.
    profile : ndarray, shape (ndisp, ncross), float64
        Source aperture weights in [0, 1] (:func:`box_weights`).
    var_rnoise, var_poisson, var_flat : ndarray, shape of ``data``, or None
        Variances (None: zero).
    bg_profile : ndarray, shape (ndisp, ncross), or None
        Background region weights (non-zero: used); None: no background subtraction.
    bkg_fit : {"poly", "median"}
    bkg_order : int
        Polynomial order (``poly``).
    smoothing_length : int
        Odd boxcar length along the dispersion applied to the image before the
        background fit (0 or 1: none).

    Returns
    -------
    BoxResult

    Raises
    ------
    ValueError
        On shapes that do not match, an unknown ``bkg_fit``, a negative order or an even
        smoothing length.
    """
    inputs = (data, var_rnoise, var_poisson, var_flat)
    if not all(a is None or np.asarray(a).flags.c_contiguous for a in inputs):
        return _extract_box_strided(
            data, profile, var_rnoise=var_rnoise, var_poisson=var_poisson, var_flat=var_flat,
            bg_profile=bg_profile, bkg_fit=bkg_fit, bkg_order=bkg_order,
            smoothing_length=smoothing_length,
        )  # fmt: skip
    img, prof = _checked_arrays(data, profile)
    # None: zero variance (its sums are zero; no zero cube is made for it).
    variances = [None if v is None or np.shape(v) != img.shape
                 else np.asarray(v, dtype=np.float64)
                 for v in (var_rnoise, var_poisson, var_flat)]  # fmt: skip
    zeros = np.zeros(img.shape[:2])
    if bg_profile is not None:
        source = _background_source(img, bkg_fit, bkg_order, smoothing_length)
        bgp = np.asarray(bg_profile)
        finite = np.isfinite(img)
        if bkg_fit == "median":
            filled = [np.zeros_like(img) if v is None else v for v in variances]
            bkg2d, bvars = _median_background(source, bgp, finite, prof, filled)
        else:
            present = [v for v in variances if v is not None]
            total = present[0] if present else np.zeros_like(img)
            for v in present[1:]:
                total = total + v
            weights = np.isfinite(total) & finite
            del total, finite
            used = (bgp != 0)[None] & np.isfinite(source)
            bkg2d, bvars = _poly_background(source, used, weights, prof, int(bkg_order),
                                            variances)  # fmt: skip
            del used, weights
        bvars = [zeros if b is None else b for b in bvars]
        img = img - bkg2d  # a new array, ours to overwrite below
        owned = True
    else:
        bkg2d, bvars, owned = None, [zeros, zeros, zeros], False
    w = np.where(np.isfinite(img), prof[None], 0.0)
    # flux = sum(where(w == 0, 0, img) * w): the same operations, in one work array.
    if owned:
        buf = img
        np.copyto(buf, 0.0, where=w == 0)
    else:
        buf = np.where(w == 0, 0.0, img)
    np.multiply(buf, w, out=buf)
    flux = buf.sum(axis=-1)
    npix = np.sum(w, axis=-1)
    w2 = w * w
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fvars = [(zeros if v is None else _nansum_of_product(v, w2, None, buf)) + b
                 for v, b in zip(variances, bvars, strict=True)]  # fmt: skip
    del w2
    if bkg2d is not None:
        background = np.multiply(bkg2d, w, out=buf).sum(axis=-1)
        background[~np.isfinite(background)] = 0.0
    else:
        background = zeros.copy()
    return _box_result(flux, fvars, background, bvars, npix, zeros)


def _extract_box_strided(data, profile, *, var_rnoise, var_poisson, var_flat, bg_profile,
                         bkg_fit, bkg_order, smoothing_length) -> BoxResult:  # fmt: skip
    """:func:`extract_box` for arrays that are not C-contiguous (e.g. transposed views of
    horizontally dispersed images): numpy sums along an axis in an order that follows
    the memory layout, so these keep the temporaries (and the results, bit for bit) of
    the general numpy expressions."""
    img, prof = _checked_arrays(data, profile)
    variances = []
    for v in (var_rnoise, var_poisson, var_flat):
        if v is None or np.shape(v) != img.shape:
            variances.append(np.zeros_like(img))
        else:
            variances.append(np.asarray(v, dtype=np.float64))
    finite = np.isfinite(img)
    zeros = np.zeros(img.shape[:2])
    if bg_profile is not None:
        source = _background_source(img, bkg_fit, bkg_order, smoothing_length)
        bgp = np.asarray(bg_profile)
        if bkg_fit == "median":
            bkg2d, bvars = _median_background(source, bgp, finite, prof, variances)
        else:
            total = variances[0] + variances[1] + variances[2]
            weights = np.isfinite(total) & finite
            used = (bgp != 0)[None] & np.isfinite(source)
            bkg2d, bvars = _poly_background_strided(source, used, weights, prof, int(bkg_order),
                                            variances)  # fmt: skip
        img = img - bkg2d
    else:
        bkg2d, bvars = None, [zeros, zeros, zeros]
    w = np.where(np.isfinite(img), prof[None], 0.0)
    flux = np.sum(np.where(w == 0, 0.0, img) * w, axis=-1)
    npix = np.sum(w, axis=-1)
    w2 = w * w
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fvars = [np.nansum(v * w2, axis=-1) + b for v, b in zip(variances, bvars, strict=True)]
    if bkg2d is not None:
        background = np.sum(bkg2d * w, axis=-1)
        background[~np.isfinite(background)] = 0.0
    else:
        background = zeros.copy()
    return _box_result(flux, fvars, background, bvars, npix, zeros)
