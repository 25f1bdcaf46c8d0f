"""Product file names following the JWST convention.

``jw<ppppp><ooo><vvv>_<gg><s><aa>_<eeeee>[-seg<nnn>]_<detector>_<suffix>.fits``:
a step's result replaces the input's suffix (``_uncal`` -> ``_rate``).

References
----------
JWST pipeline documentation, "Input and output file conventions" (stpipe).
"""

from __future__ import annotations

import os

__all__ = ["KNOWN_SUFFIXES", "member_output_path", "output_path", "remove_suffix"]

KNOWN_SUFFIXES = frozenset(
    {
        "uncal", "ramp", "rate", "rateints", "cal", "calints", "bsub", "bsubints", "crf",
        "crfints", "i2d", "s2d", "s3d", "x1d", "x1dints", "c1d", "cat", "dark", "trapsfilled",
        "group_scale", "dq_init", "saturation", "ipc", "superbias", "refpix", "linearity",
        "dark_current", "charge_migration", "jump", "ramp_fit", "gain_scale", "rscd",
        "firstframe", "lastframe", "reset", "emicorr", "persistence", "clean_flicker_noise",
        "picture_frame", "fitopt", "calwebb_detector1", "detector1pipeline", "guider_cds",
        "flat_field", "calwebb_guider", "guiderpipeline",
        "skymatch", "tweakreg", "outlier_detection", "assign_mtwcs",
    }
)  # fmt: skip


def remove_suffix(root: str) -> str:
    """Remove trailing known product suffixes from a file root (no extension).

    >>> remove_suffix("jw01_nrca1_uncal")
    'jw01_nrca1'
    >>> remove_suffix("jw01_nrca1_dark_current")
    'jw01_nrca1'
    """
    changed = True
    while changed:
        changed = False
        for suffix in sorted(KNOWN_SUFFIXES, key=len, reverse=True):
            if root.endswith("_" + suffix) and len(root) > len(suffix) + 1:
                root = root[: -len(suffix) - 1]
                changed = True
                break
    return root


def output_path(
    input_name: str | None,
    suffix: str,
    *,
    output_dir: str | None = None,
    output_file: str | None = None,
    ext: str = ".fits",
) -> str:
    """Return the path of a product.

    Parameters
    ----------
    input_name : str or None
        File name of the input exposure (its root names the product).
    suffix : str
        Product suffix without underscore (``rate``, ``rateints``, ``jump``).
    output_dir : str or None
        Directory of the product; the current directory when None.
    output_file : str or None
        User-chosen base name; its extension and known suffix are dropped and
        ``suffix`` appended, as the official pipeline does.
    ext : str
        File extension.

    Raises
    ------
    ValueError
        If neither ``input_name`` nor ``output_file`` gives a name.
    """
    base = output_file or input_name
    if not base:
        raise ValueError("cannot name the output: the input has no file name; set output_file")
    base = os.path.basename(base)
    root, _ = os.path.splitext(base)
    if root.endswith(".fits"):
        root = root[:-5]
    root = remove_suffix(root)
    name = f"{root}_{suffix}{ext}" if suffix else f"{root}{ext}"
    return os.path.join(output_dir or os.getcwd(), name)


def member_output_path(
    member_name: str,
    suffix: str,
    *,
    asn_id: str | None = None,
    output_dir: str | None = None,
    ext: str = ".fits",
) -> str:
    """Path of a per-exposure product of a stage-3 step (``_crf``, ``_crfints``...).

    The member's file root (its suffix removed) gets the association id and the
    new suffix: ``jw..._nrca1_cal.fits`` in association ``o001`` with suffix
    ``crf`` -> ``jw..._nrca1_o001_crf.fits``. Without an association id the
    product is ``<root>_<suffix>``.

    Examples
    --------
    >>> import os
    >>> os.path.basename(member_output_path("jw01_nrca1_cal.fits", "crf", asn_id="o001"))
    'jw01_nrca1_o001_crf.fits'
    """
    root, _ = os.path.splitext(os.path.basename(member_name))
    if root.endswith(".fits"):
        root = root[:-5]
    root = remove_suffix(root)
    if asn_id:
        root = f"{root}_{asn_id}"
    return os.path.join(output_dir or os.getcwd(), f"{root}_{suffix}{ext}")
