"""Run the test pipeline of test_multi_exposure over N members in a fresh process; print
the peak RSS in bytes.  Usage: python _multi_exposure_memory.py FOLDER N IN_MEMORY"""

import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [here, os.path.dirname(here)]

from test_multi_exposure import ToyImage3Pipeline  # noqa: E402

from _memory import peak_since_reset, reset_peak  # noqa: E402
from webbcal.associations import write_association  # noqa: E402
from webbcal.associations.from_list import asn_from_list  # noqa: E402

folder, n, in_memory = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "True"
names = sorted(f for f in os.listdir(folder) if f.endswith("_cal.fits"))[:n]
asn = write_association(
    asn_from_list(names, product_name="m", acid="o001"),
    os.path.join(folder, f"m{n}{in_memory}_asn.json"),
)
baseline = reset_peak()
ToyImage3Pipeline.call(
    asn, in_memory=in_memory, disable_crds_steppars=True, save_results=False,
    steps={"divide_flat": {"override_flat": os.path.join(folder, "flat.fits")}},
)  # fmt: skip
print(peak_since_reset(baseline))
