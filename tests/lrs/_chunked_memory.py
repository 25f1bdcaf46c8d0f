"""Run calwebb_spec2 then calwebb_tso3 on a saved LRS rateints in a fresh process; print
the peak RSS above the post-import baseline, bytes.

Usage: python _chunked_memory.py RATEINTS OUTDIR OVERRIDES_JSON MEMORY_LIMIT
"""

import json
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [here, os.path.dirname(here)]

from stdatamodels.jwst import datamodels  # noqa: E402, F401

from _memory import peak_since_reset, reset_peak  # noqa: E402
from webbcal.associations import write_association  # noqa: E402
from webbcal.associations.from_list import asn_from_list  # noqa: E402
from webbcal.pipeline.spec2 import Spec2Pipeline  # noqa: E402
from webbcal.pipeline.tso3 import Tso3Pipeline  # noqa: E402

rateints, out, steps, limit = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]
baseline = reset_peak()
Spec2Pipeline.call(rateints, steps=steps, save_results=True, output_dir=out, memory_limit=limit)
calints = os.path.basename(rateints).replace("_rateints", "_calints")
asn = write_association(asn_from_list([calints], product_name="p", acid="o001"),
                        os.path.join(out, "tso3_asn.json"))  # fmt: skip
Tso3Pipeline.call(asn, steps={"extract_1d": steps["extract_1d"]}, save_results=True,
                  output_dir=out, memory_limit=limit)  # fmt: skip
print(peak_since_reset(baseline))
