"""Aperture correction of box-extracted MIRI LRS spectra (``apcorr`` reference).

The MIRI LRS APCORR table has, per SUBARRAY, a wavelength grid (``wavelength``,
``nelem_wl``), a grid of aperture sizes in pixels (``size``, ``nelem_size``) and the
correction ``apcorr[wavelength, size]``: the ratio of the total flux of a point source to
the flux inside a box of that width. The correction of a spectral element is this table
interpolated bilinearly at the element's wavelength and its number of extracted pixels
(NPIXELS); FLUX, FLUX_ERROR, SURF_BRIGHT and SB_ERROR are multiplied by it, their
variances by its square. Point sources only.

References
----------
JWST pipeline documentation, ``extract_1d`` step, "Aperture correction", and the
``apcorr`` reference file (MIRI LRS: SUBARRAY, WAVELENGTH, SIZE in pixels, APCORR).
"""

from __future__ import annotations

import os

import numpy as np

__all__ = ["ApertureCorrectionError", "lrs_aperture_correction"]


class ApertureCorrectionError(ValueError):
    """An APCORR reference that cannot correct the exposure (names file and value)."""


def lrs_aperture_correction(path: str, model) -> object:
    """Read the MIRI LRS APCORR row of the exposure's subarray.

    Parameters
    ----------
    path : str
        APCORR reference (FITS, ``MirLrsApcorrModel``).
    model : DataModel
        The exposure (SUBARRAY, INSTRUME, DETECTOR). Not modified.

    Returns
    -------
    callable
        ``correction(npixels, wavelength) -> ndarray`` (broadcast inputs; pixels and
        micron): the bilinear interpolation of the table (scipy ``RectBivariateSpline``
        of degree 1 in both variables).

    Raises
    ------
    ApertureCorrectionError
        If no row (or several) matches SUBARRAY, or the sizes are not in pixels.
    """
    from scipy.interpolate import RectBivariateSpline
    from stdatamodels.jwst.datamodels import MirLrsApcorrModel

    from ..lib.reffiles import load_reference

    name = os.path.basename(path)
    ref = load_reference(path, MirLrsApcorrModel, model)
    try:
        table = ref.apcorr_table
        unit = str(getattr(ref, "sizeunit", None) or "pixels")
        if unit.lower().startswith("arcsec"):
            raise ApertureCorrectionError(
                f"{name}: SIZEUNIT={unit!r}; only aperture sizes in pixels are supported"
            )
        subarray = (model.meta.subarray.name or "").upper()
        subs = np.char.upper(np.char.strip(np.asarray(table["subarray"]).astype(str)))
        rows = np.flatnonzero(subs == subarray)
        if rows.size != 1:
            raise ApertureCorrectionError(
                f"{name}: {rows.size} APCORR rows for SUBARRAY={subarray!r} (rows: "
                f"{sorted(set(subs.tolist()))}); expected exactly one"
            )
        row = table[int(rows[0])]
        nwl, nsize = int(row["nelem_wl"]), int(row["nelem_size"])
        wavelength = np.asarray(row["wavelength"][:nwl], dtype=np.float64)
        size = np.asarray(row["size"][:nsize], dtype=np.float64)
        values = np.asarray(row["apcorr"][:nwl, :nsize], dtype=np.float64)
    finally:
        ref.close()
    order = np.argsort(wavelength)
    spline = RectBivariateSpline(size, wavelength[order], values[order].T, kx=1, ky=1)

    def correction(npixels, wl):
        n, w = np.broadcast_arrays(np.asarray(npixels, float), np.asarray(wl, float))
        return spline.ev(n.ravel(), w.ravel()).reshape(n.shape)

    return correction
