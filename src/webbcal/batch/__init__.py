"""Batch processing of many exposures on ``dask.distributed`` (``webbcal batch``).

Typical use, on this machine or in a notebook with an existing ``Client``::

    from webbcal.batch import run_batch

    result = run_batch("data/*_uncal.fits", output_dir="out",
                       steps={"jump": {"rejection_threshold": 5.0}})
    print(result.summary())
    result = run_batch("asn.json", output_dir="out", client=client)  # a cluster you hold
"""

from webbcal.batch.inputs import BatchInputError, expand_inputs, exposure_root, read_association
from webbcal.batch.manifest import MANIFEST_NAME, BatchLockedError, Manifest
from webbcal.batch.runner import BatchResult, ExposureOutcome, cluster_size, run_batch

__all__ = [
    "MANIFEST_NAME",
    "BatchInputError",
    "BatchLockedError",
    "BatchResult",
    "ExposureOutcome",
    "Manifest",
    "cluster_size",
    "expand_inputs",
    "exposure_root",
    "read_association",
    "run_batch",
]
