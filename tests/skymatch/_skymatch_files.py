"""Simulated dithered ``_cal`` exposures with known sky levels: truth and file helpers."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from _shared_paths import REAL

SIAF_DIR = REAL / "pysiaf-siafxml"
#: Sky of each exposure, MJy/sr (the truth skymatch must recover).
SKY = (0.10, 0.13, 0.117, 0.16)


def regroup(dithers, folder: Path, exposure_numbers: tuple[int, ...],
            offsets: tuple[float, ...] | None = None) -> Path:  # fmt: skip
    """Copies of the ``_cal`` files with new exposure numbers, and their association.

    Members given the same exposure number form one exposure group (one ``group_id``);
    ``offsets`` (MJy/sr) are added to their data.
    """
    from stdatamodels.jwst import datamodels as dm

    from webbcal.associations.asn import write_association
    from webbcal.associations.from_list import asn_from_list
    from webbcal.datamodels import save_model

    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for path, number in zip(dithers.cal_paths, exposure_numbers, strict=True):
        with dm.open(str(path)) as model:
            model.meta.observation.exposure_number = str(number)
            if offsets is not None:
                model.data = model.data + np.float32(offsets[len(names)])
            save_model(model, str(folder / path.name))
        names.append(path.name)
    asn = asn_from_list(names, product_name=dithers.product_name, acid="o001", program="01234")
    asn_path = folder / "jw01234-o001_image3_00002_asn.json"
    write_association(asn, asn_path)
    return asn_path


def copy_set(dithers, folder: Path) -> Path:
    """A copy of the files and association in ``folder`` (for tests that write there)."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in (*dithers.cal_paths, dithers.asn_path):
        shutil.copy(path, folder / path.name)
    return folder / dithers.asn_path.name
