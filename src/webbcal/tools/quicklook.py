"""``webbcal quicklook FILE [-o out.png]``: a PNG of an image product or of one ramp pixel.

Images (rate, rateints, cal, calints, i2d, ...) are shown with a zscale or
asinh stretch, a colour bar in the product's units and a title naming the
file and mode. A product with a WCS (assign_wcs or resample done: cal, calints,
i2d) whose SCI header holds a celestial FITS WCS (the TAN-SIP approximation that
assign_wcs writes, the exact TAN of resample) gets RA/Dec axes drawn with
astropy's WCSAxes (``--no-wcs``: pixel axes); ``--dq`` overlays
pixels flagged DO_NOT_USE. ``--pixel X Y`` plots the groups of one pixel of a ramp
(uncal or ramp product), one line per integration, with jumps (JUMP_DET) and
saturated groups (SATURATED) marked when the product has a GROUPDQ array.

matplotlib is imported only when a plot is made (Agg canvas, no pyplot state).

References
----------
astropy documentation, "Making plots with world coordinates (WCSAxes)".

IRAF ``display`` zscale algorithm, as implemented in
``astropy.visualization.ZScaleInterval``; Lupton, Gunn & Szalay (1999),
AJ 118, 1406 (asinh stretch).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from webbcal import dqflags
from webbcal.tools._cli import ArgumentParser
from webbcal.tools.product import ProductError, read_product

__all__ = ["DEFAULT_SIZE", "image_figure", "main", "render_image", "render_pixel"]

#: Default PNG size in pixels (width, height).
DEFAULT_SIZE = (800, 700)
_DPI = 100
_STRETCHES = ("zscale", "asinh")


@dataclass(frozen=True)
class _Arrays:
    sci: np.ndarray
    dq: np.ndarray | None
    groupdq: np.ndarray | None
    bunit: str
    header: Any = None
    has_wcs: bool = False


def _celestial_wcs(arrays: _Arrays, shape: tuple[int, int]):
    """The 2-D celestial FITS WCS of a product with a WCS, or None when it has none.

    Products before assign_wcs (rate, rateints) may carry the pointing's linear FITS WCS,
    which ignores the distortion: they keep pixel axes.
    """
    import warnings

    from astropy.wcs import WCS, FITSFixedWarning

    header = arrays.header
    if not arrays.has_wcs or header is None:
        return None
    if not str(header.get("CTYPE1", "")).startswith(("RA-", "DEC-")):
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            wcs = WCS(header, naxis=2)
    except Exception:  # a malformed WCS: show pixel axes instead
        return None
    if not wcs.has_celestial or wcs.naxis != 2:
        return None
    wcs.array_shape = shape
    return wcs


def _load(path: str) -> _Arrays:
    from astropy.io import fits

    try:
        with fits.open(path, memmap=False) as hdul:
            if "SCI" not in hdul or hdul["SCI"].data is None:
                raise ProductError(f"{path}: has no SCI image to show")
            sci = np.asarray(hdul["SCI"].data, dtype=np.float64)
            dq = np.asarray(hdul["DQ"].data) if "DQ" in hdul and hdul["DQ"].data is not None \
                else None  # fmt: skip
            if dq is None and "PIXELDQ" in hdul and hdul["PIXELDQ"].data is not None:
                dq = np.asarray(hdul["PIXELDQ"].data)
            gdq = np.asarray(hdul["GROUPDQ"].data) if "GROUPDQ" in hdul else None
            header = hdul["SCI"].header.copy()
            primary = hdul[0].header
            has_wcs = "COMPLETE" in (primary.get("S_WCS"), primary.get("S_RESAMP"))
            bunit = str(header.get("BUNIT", "") or "")
    except ProductError:
        raise
    except Exception as exc:
        raise ProductError(f"{path}: cannot read the SCI data ({type(exc).__name__}: {exc})") \
            from None  # fmt: skip
    return _Arrays(sci, dq, gdq, bunit, header, has_wcs)


def _title(path: str) -> str:
    product = read_product(path)
    parts = [product.instrument, product.get("DETECTOR"), product.exp_type,
             product.get("FILTER"), product.get("PUPIL"), product.get("GRATING")]  # fmt: skip
    mode = " ".join(str(p) for p in parts if p not in (None, "", "N/A", "CLEAR"))
    return f"{os.path.basename(path)}\n{mode}"


def _figure(size: tuple[int, int]):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(size[0] / _DPI, size[1] / _DPI), dpi=_DPI)
    FigureCanvasAgg(fig)
    return fig


def _norm(image: np.ndarray, stretch: str):
    from astropy.visualization import (
        AsinhStretch,
        ImageNormalize,
        LinearStretch,
        PercentileInterval,
        ZScaleInterval,
    )

    finite = image[np.isfinite(image)]
    if finite.size == 0:
        raise ProductError("the image has no finite pixel to show")
    if stretch == "zscale":
        vmin, vmax = ZScaleInterval().get_limits(finite)
        stretch_obj = LinearStretch()
    else:
        vmin, vmax = PercentileInterval(99.5).get_limits(finite)
        stretch_obj = AsinhStretch(0.1)
    if not vmax > vmin:
        vmin, vmax = float(finite.min()), float(finite.min()) + 1.0
    return ImageNormalize(vmin=vmin, vmax=vmax, stretch=stretch_obj, clip=True)


def _plane(arrays: _Arrays, integration: int) -> tuple[np.ndarray, np.ndarray | None]:
    sci, dq = arrays.sci, arrays.dq
    if sci.ndim == 4:  # a ramp: show the last group
        sci = sci[integration, -1]
    elif sci.ndim == 3:
        sci = sci[integration]
    elif sci.ndim != 2:
        raise ProductError(f"SCI has {sci.ndim} dimensions; expected an image (2-4)")
    if dq is not None and dq.ndim == 3:
        dq = dq[integration]
    if dq is not None and dq.shape != sci.shape:
        dq = None
    return sci, dq


def image_figure(
    path: str,
    *,
    stretch: str = "zscale",
    dq_overlay: bool = False,
    integration: int = 0,
    size: tuple[int, int] = DEFAULT_SIZE,
    wcs: bool = True,
    markers: Any = None,
) -> Any:
    """A matplotlib Figure of the SCI image of a product (Agg canvas, not saved).

    Parameters
    ----------
    path : str
        JWST product with a SCI extension of 2 (image), 3 (per integration) or
        4 (ramp: the last group is shown) dimensions.
    stretch : {"zscale", "asinh"}
        Display stretch.
    dq_overlay : bool
        Overlay pixels whose DQ has DO_NOT_USE in red.
    integration : int
        Integration shown for 3-D and 4-D data (0-based).
    size : (int, int)
        PNG size in pixels (width, height).
    wcs : bool
        Draw RA/Dec axes (astropy WCSAxes) when the product has a WCS (S_WCS or
        S_RESAMP is COMPLETE) and its SCI header a celestial FITS WCS; False, or a
        product without one, gives pixel axes.
    markers : sequence of (ra, dec) or None
        Sky positions (ICRS degrees) to circle; they need RA/Dec axes and are
        ignored on pixel axes.

    Returns
    -------
    matplotlib.figure.Figure
        One image axes (an astropy ``WCSAxes`` when RA/Dec axes are drawn) and its
        colour bar.

    Raises
    ------
    ValueError
        For a bad ``stretch``, ``integration`` or ``size``.
    webbcal.tools.product.ProductError
        For a file without a usable SCI image.
    """
    if stretch not in _STRETCHES:
        raise ValueError(f"stretch={stretch!r}; expected one of {', '.join(_STRETCHES)}")
    _check_size(size)
    title = _title(path)
    arrays = _load(path)
    nints = arrays.sci.shape[0] if arrays.sci.ndim >= 3 else 1
    if not 0 <= integration < nints:
        raise ValueError(f"integration={integration} is out of range; the file has {nints}")
    image, dq = _plane(arrays, integration)
    fig = _figure(size)
    sky = _celestial_wcs(arrays, image.shape) if wcs else None
    ax = fig.add_subplot(1, 1, 1, projection=sky) if sky is not None else fig.add_subplot(1, 1, 1)
    ny, nx = image.shape
    aspect = "equal" if max(ny, nx) <= 4 * min(ny, nx) else "auto"  # keep slits readable
    # An image larger than its axes is filtered before display (matplotlib's antialiasing
    # on the data), so that compact sources survive the down-sampling; smaller ones show
    # their pixels as they are.
    shrink = max(ny, nx) > 0.6 * max(size)
    interpolation = "antialiased" if shrink else "nearest"
    shown = ax.imshow(image, origin="lower", cmap="gray", norm=_norm(image, stretch),
                      interpolation=interpolation, interpolation_stage="data",
                      aspect=aspect)  # fmt: skip
    if dq_overlay and dq is not None:
        bad = (dq.astype(np.uint32) & dqflags.DO_NOT_USE) != 0
        overlay = np.zeros(image.shape + (4,), dtype=float)
        overlay[bad] = (1.0, 0.0, 0.0, 0.6)
        ax.imshow(overlay, origin="lower", interpolation="nearest", aspect=aspect)
    fig.colorbar(shown, ax=ax, label=arrays.bunit or "(no BUNIT)")
    suffix = f", integration {integration}" if nints > 1 else ""
    ax.set_title(f"{title} [{stretch}{suffix}]", fontsize=9)
    if sky is None:
        ax.set_xlabel("x (pixel)")
        ax.set_ylabel("y (pixel)")
    else:
        _sky_axes(ax, markers)
    return fig


def render_image(
    path: str,
    out: str,
    *,
    stretch: str = "zscale",
    dq_overlay: bool = False,
    integration: int = 0,
    size: tuple[int, int] = DEFAULT_SIZE,
    wcs: bool = True,
    markers: Any = None,
) -> str:
    """Write a PNG of the SCI image of a product.

    Parameters
    ----------
    path : str
        JWST product (see :func:`image_figure`).
    out : str
        PNG file to write.
    stretch, dq_overlay, integration, size, wcs, markers
        As in :func:`image_figure`.

    Returns
    -------
    str
        ``out``.

    Raises
    ------
    ValueError
        For a bad ``stretch``, ``integration`` or ``size``.
    webbcal.tools.product.ProductError
        For a file without a usable SCI image.
    """
    fig = image_figure(path, stretch=stretch, dq_overlay=dq_overlay, integration=integration,
                       size=size, wcs=wcs, markers=markers)  # fmt: skip
    _save_png(fig, out)
    return out


def _save_png(fig, out: str) -> None:
    """Save a figure as PNG atomically: a temporary file beside ``out``, then a rename."""
    import tempfile

    directory = os.path.dirname(os.path.abspath(out))
    fd, tmp = tempfile.mkstemp(prefix=".tmp_webbcal_", suffix=".png", dir=directory)
    try:
        with os.fdopen(fd, "wb") as stream:
            fig.savefig(stream, dpi=_DPI, format="png")
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _sky_axes(ax, markers) -> None:
    """Label WCSAxes in RA/Dec, draw a grid and circle ``markers`` (ICRS degrees)."""
    ra_axis, dec_axis = ax.coords[0], ax.coords[1]
    ra_axis.set_axislabel("RA (ICRS)")
    dec_axis.set_axislabel("Dec (ICRS)")
    ra_axis.set_major_formatter("hh:mm:ss.s")
    dec_axis.set_major_formatter("dd:mm:ss")
    ax.coords.grid(color="tab:orange", alpha=0.5, linestyle="dotted")
    if markers is not None and len(markers):
        radec = np.asarray(markers, dtype=float).reshape(-1, 2)
        ax.scatter(radec[:, 0], radec[:, 1], transform=ax.get_transform("world"), s=400,
                   facecolors="none", edgecolors="cyan", linewidths=1.2)  # fmt: skip


def render_pixel(
    path: str,
    out: str,
    x: int,
    y: int,
    *,
    size: tuple[int, int] = DEFAULT_SIZE,
) -> str:
    """Write a PNG of the groups of one ramp pixel, with jumps and saturation marked.

    Parameters
    ----------
    path : str
        Ramp product (uncal or ramp): SCI of shape (nints, ngroups, ny, nx).
    out : str
        PNG file to write.
    x, y : int
        Pixel column and row (0-based, numpy order ``[y, x]``).
    size : (int, int)
        PNG size in pixels.

    Returns
    -------
    str
        ``out``.

    Raises
    ------
    ValueError
        For a pixel outside the array.
    webbcal.tools.product.ProductError
        For a file that is not a ramp.
    """
    _check_size(size)
    title = _title(path)
    arrays = _load(path)
    if arrays.sci.ndim != 4:
        raise ProductError(
            f"{path}: SCI has shape {arrays.sci.shape}; --pixel needs a ramp "
            "(nints, ngroups, ny, nx) such as an uncal or ramp product"
        )
    nints, ngroups, ny, nx = arrays.sci.shape
    if not (0 <= x < nx and 0 <= y < ny):
        raise ValueError(f"pixel (x={x}, y={y}) is outside the {nx} x {ny} array")
    fig = _figure(size)
    ax = fig.add_subplot(1, 1, 1)
    groups = np.arange(ngroups)
    for i in range(nints):
        values = arrays.sci[i, :, y, x]
        ax.plot(groups, values, marker="o", ms=3, lw=1, label=f"integration {i}")
        if arrays.groupdq is not None:
            gdq = arrays.groupdq[i, :, y, x].astype(np.uint32)
            _mark(ax, groups, values, gdq & dqflags.JUMP_DET, "^", "red", "jump", i)
            _mark(ax, groups, values, gdq & dqflags.SATURATED, "s", "orange", "saturated", i)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("group")
    ax.set_ylabel(arrays.bunit or "DN")
    ax.set_title(f"{title} [pixel x={x}, y={y}]", fontsize=9)
    if nints <= 10 or arrays.groupdq is not None:
        ax.legend(fontsize=7, loc="best")
    _save_png(fig, out)
    return out


def _mark(ax, groups, values, flags, marker, color, label, integration):
    hit = flags != 0
    if hit.any():
        ax.scatter(groups[hit], values[hit], marker=marker, s=60, facecolors="none",
                   edgecolors=color, linewidths=1.5,
                   label=f"{label} (int {integration})")  # fmt: skip


def _check_size(size: Any) -> None:
    if len(size) != 2 or not all(isinstance(v, int) and 100 <= v <= 4000 for v in size):
        raise ValueError(f"size={size!r}; expected (width, height) in pixels, 100-4000 each")


def main(argv: list[str]) -> int:
    """``webbcal quicklook FILE [-o out.png] [--stretch ...] [--dq] [--pixel X Y]``."""
    parser = ArgumentParser(
        prog="webbcal quicklook",
        description="PNG quick look of a rate/cal/i2d image, or of one ramp pixel's groups.",
    )
    parser.add_argument("file", help="JWST product")
    parser.add_argument("-o", "--output", default=None,
                        help="PNG to write (default: <file stem>_quicklook.png here)")  # fmt: skip
    parser.add_argument("--stretch", choices=_STRETCHES, default="zscale", help="display stretch")
    parser.add_argument("--dq", action="store_true", help="overlay DO_NOT_USE pixels in red")
    parser.add_argument("--integration", type=int, default=0, help="integration (0-based)")
    parser.add_argument("--pixel", nargs=2, type=int, metavar=("X", "Y"),
                        help="plot this ramp pixel's groups instead of the image")  # fmt: skip
    parser.add_argument("--no-wcs", action="store_true",
                        help="pixel axes even when the product has a celestial WCS")  # fmt: skip
    parser.add_argument("--size", nargs=2, type=int, metavar=("W", "H"),
                        default=list(DEFAULT_SIZE), help="PNG size in pixels")  # fmt: skip
    args = parser.parse_args(argv)
    out = args.output or _default_output(args.file, args.pixel)
    size = (args.size[0], args.size[1])
    try:
        if args.pixel:
            render_pixel(args.file, out, args.pixel[0], args.pixel[1], size=size)
        else:
            render_image(args.file, out, stretch=args.stretch, dq_overlay=args.dq,
                         integration=args.integration, size=size,
                         wcs=not args.no_wcs)  # fmt: skip
    except ValueError as exc:
        if isinstance(exc, ProductError):
            raise
        from webbcal.cli import UsageError

        raise UsageError(str(exc)) from None
    print(out)
    return 0


def _default_output(path: str, pixel) -> str:
    stem = os.path.basename(path)
    for ext in (".gz", ".fits"):
        stem = stem.removesuffix(ext)
    tail = f"_pixel{pixel[0]}_{pixel[1]}" if pixel else ""
    return f"{stem}{tail}_quicklook.png"
