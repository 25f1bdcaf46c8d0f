"""Run a ModelLibrary over N members in a fresh process and print its peak RSS (bytes).

Usage: python _library_memory.py FOLDER N on_disk|in_memory
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from _memory import peak_since_reset, reset_peak
from webbcal.associations import write_association
from webbcal.associations.from_list import asn_from_list
from webbcal.datamodels import ModelLibrary

folder, n, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
names = sorted(f for f in os.listdir(folder) if f.endswith("_rate.fits"))[:n]
asn = write_association(
    asn_from_list(names, product_name="m"), os.path.join(folder, f"{mode}{n}_asn.json")
)
baseline = reset_peak()
lib = ModelLibrary(asn, on_disk=mode == "on_disk", temp_directory=folder)
with lib:
    for index, model in enumerate(lib):
        model.data = model.data * 2.0
        lib.shelve(model, index)
lib.close()
print(peak_since_reset(baseline))
