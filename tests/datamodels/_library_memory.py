"""Run a ModelLibrary over N members in a fresh process and print its peak RSS (bytes).

Usage: python _library_memory.py FOLDER N on_disk|in_memory
"""

import os
import sys

from webbcal.associations import write_association
from webbcal.associations.from_list import asn_from_list
from webbcal.datamodels import ModelLibrary


def _status(key: str) -> int:
    """A memory figure of this process from /proc/self/status, in bytes."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def _reset_peak() -> int:
    """Reset the peak RSS (VmHWM) to the current RSS and return the current RSS."""
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    return _status("VmRSS")


folder, n, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
names = sorted(f for f in os.listdir(folder) if f.endswith("_rate.fits"))[:n]
asn = write_association(
    asn_from_list(names, product_name="m"), os.path.join(folder, f"{mode}{n}_asn.json")
)
baseline = _reset_peak()
lib = ModelLibrary(asn, on_disk=mode == "on_disk", temp_directory=folder)
with lib:
    for index, model in enumerate(lib):
        model.data = model.data * 2.0
        lib.shelve(model, index)
lib.close()
print(_status("VmHWM") - baseline)
