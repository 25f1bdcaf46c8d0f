"""Benchmark the ``skymatch`` step on N dithered NIRCam exposures, webbcal against jwst.

Four dithered exposures are simulated (``simulate_dithered_cals``, one SIAF aperture) and
copied to N members (distinct exposure numbers, so N exposure groups, each copy with its
own sky offset). Each run is a separate Python process (its peak RSS, VmHWM, is
its own): webbcal's ``SkyMatchStep`` with ``in_memory`` True and False, and jwst's when
installed, all with the default ``skymethod='match'`` on the same association. Reported:
wall time of the step call, peak RSS, and the largest relative difference of the levels.

Measured on the shared 2-core development machine (load ~10, so times are rough),
NRCA1_SUB640 members, default parameters::

       N run                     seconds  peak MB  max rel diff
       4 webbcal in_memory=True     3.21      200      0.00e+00
       4 webbcal in_memory=False    10.83      171      0.00e+00
       4 jwst in_memory=True        6.67      199      2.72e-08
       4 jwst in_memory=False      12.06      210      2.72e-08
      16 webbcal in_memory=True    31.59      354      0.00e+00
      16 webbcal in_memory=False    59.66      175      0.00e+00
      16 jwst in_memory=True       74.60      361      3.12e-08
      16 jwst in_memory=False     206.02      244      3.12e-08

Usage::

    python benchmarks/bench_skymatch.py [--n 4 16] [--aperture NRCA1_SUB640] [--no-jwst]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

SIAF_DIR = Path("/work/shared/data/real/pysiaf-siafxml")


def make_members(folder: Path, aperture: str, n: int) -> Path:
    """N ``_cal`` members (copies of four simulated dithers) and their association."""
    import numpy as np
    from stdatamodels.jwst import datamodels as dm

    from webbcal.associations.asn import write_association
    from webbcal.associations.from_list import asn_from_list
    from webbcal.datamodels import save_model
    from webbcal.simulate.dithers import simulate_dithered_cals

    base = folder / f"sim_{aperture}"
    cals = sorted((base / "data").glob("*_cal.fits"))
    if len(cals) != 4:
        cals = list(
            simulate_dithered_cals(
                base, SIAF_DIR, aperture=aperture, sky=(0.1, 0.13, 0.117, 0.16), seed=1
            ).cal_paths
        )
    out = folder / f"{aperture}_n{n}"
    out.mkdir(parents=True, exist_ok=True)
    names = []
    for k in range(n):
        name = f"jw01234001001_01101_{k + 1:05d}_nrca1_cal.fits"
        if not (out / name).exists():
            with dm.open(str(cals[k % 4])) as model:
                model.meta.observation.exposure_number = str(k + 1)
                model.meta.filename = name
                model.data = model.data + np.float32(0.01 * (k // 4))
                save_model(model, str(out / name))
        names.append(name)
    asn = asn_from_list(names, product_name="jw01234-o001_t001_nircam_clear",
                        acid="o001", program="01234")  # fmt: skip
    path = out / "jw01234-o001_image3_00001_asn.json"
    write_association(asn, path)
    return path


def _peak_mb() -> float:
    """Peak RSS of this process (VmHWM: not inherited from the parent, unlike ru_maxrss)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(which: str, asn: str, in_memory: bool) -> None:
    """Run one implementation and print JSON: seconds, peak RSS (MB), levels.

    One member is opened first, so one-time costs (asdf extensions, schemas) are
    outside the timing for both implementations.
    """
    import json as _json

    from stdatamodels.jwst import datamodels as dm

    first = _json.loads(Path(asn).read_text())["products"][0]["members"][0]["expname"]
    dm.open(str(Path(asn).parent / first)).close()
    if which == "jwst":
        import tempfile

        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from jwst.skymatch import SkyMatchStep

        from _stage2_inputs import _parity_module

        with tempfile.TemporaryDirectory() as root:
            with _parity_module().offline_environment(Path(root)):
                start = time.perf_counter()
                result = SkyMatchStep.call(asn, in_memory=in_memory)
                seconds = time.perf_counter() - start
    else:
        from webbcal.skymatch import SkyMatchStep

        start = time.perf_counter()
        result = SkyMatchStep.call(asn, in_memory=in_memory, disable_crds_steppars=True)
        seconds = time.perf_counter() - start
    levels = []
    with result:
        for i in range(len(result)):
            model = result.borrow(i)
            levels.append(model.meta.background.level)
            result.shelve(model, i, modify=False)
    peak = _peak_mb()
    print(json.dumps({"seconds": seconds, "peak_mb": peak, "levels": levels}))


def _run(which: str, asn: Path, in_memory: bool) -> dict:
    cmd = [sys.executable, __file__, "--child", which, str(asn), str(in_memory)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", default="/tmp/bench_skymatch")
    parser.add_argument("--aperture", default="NRCA1_SUB640")
    parser.add_argument("--n", type=int, nargs="+", default=[4, 16])
    parser.add_argument("--no-jwst", action="store_true")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        which, asn, in_memory = args.child
        _child(which, asn, in_memory == "True")
        return
    print(f"{'N':>4} {'run':<22} {'seconds':>8} {'peak MB':>8} {'max rel diff':>13}")
    for n in args.n:
        asn = make_members(Path(args.folder), args.aperture, n)
        runs = [("webbcal", True), ("webbcal", False)]
        if not args.no_jwst:
            runs += [("jwst", True), ("jwst", False)]
        results = {(w, m): _run(w, asn, m) for w, m in runs}
        reference = results[("webbcal", True)]["levels"]
        for (which, in_memory), res in results.items():
            diff = max(abs(a - b) / max(abs(b), 1e-12) for a, b in
                       zip(res["levels"], reference, strict=True) if b)  # fmt: skip
            label = f"{which} in_memory={in_memory}"
            print(f"{n:>4} {label:<22} {res['seconds']:8.2f} {res['peak_mb']:8.0f} {diff:13.2e}")


if __name__ == "__main__":
    main()
