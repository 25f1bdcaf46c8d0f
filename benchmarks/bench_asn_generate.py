"""Benchmark: ``webbcal asn generate`` vs the official ``asn_generate`` on a big pool.

Runs the generator (default options: all candidates and discovered
associations, no files written) on ``mega_pool.csv`` from the jwst test data
(1438 exposures; the template is expanded by jwst's own test helper, or read as
is when it has no templates), each tool in a fresh Python process. Prints wall
time, CPU time, peak RSS, the number of associations, and the ratio. With
``--with-jwst`` the official generator is run too (about 500 s) and the two
sets of associations are compared (rule, products, members, type, id, file name).

Usage::

    python benchmarks/bench_asn_generate.py [--pool PATH] [--with-jwst]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

_CHILD = r"""
import json, resource, sys, time
which, pool_path, out = sys.argv[1:4]
t0, c0 = time.perf_counter(), time.process_time()
if which == "webbcal":
    from webbcal.associations.generate import generate
    from webbcal.associations.pool import read_pool
    asns = [(a.asn_name() + ".json", a.to_dict())
            for a in generate(read_pool(pool_path), discover=True, all_candidates=True)]
else:
    from jwst.associations.main import Main
    main = Main(["--dry-run", pool_path])
    main.generate()
    asns = [(f, json.loads(s)) for f, s in (a.dump() for a in main.associations)]
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
keys = [[f, t["asn_rule"].split("_", 1)[1], t["asn_type"], t["asn_id"],
         [p["name"] for p in t["products"]],
         sorted([m["expname"], m["exptype"]] for p in t["products"] for m in p["members"])]
        for f, t in asns]
json.dump({"wall": wall, "cpu": cpu, "rss_mb": rss, "keys": keys}, open(out, "w"))
"""


def _expanded_pool(folder: Path, source: Path) -> Path:
    """The pool with jwst's test templates (``@!...``) expanded, written to ``folder``."""
    text = source.read_text()
    if "@!" not in text:
        return source
    from jwst.associations.tests.helpers import combine_pools

    path = folder / source.name
    combine_pools(str(source)).write(str(path), format="ascii", delimiter="|", overwrite=True)
    return path


def _run(which: str, pool: Path, folder: Path) -> dict:
    out = folder / f"{which}.json"
    subprocess.run([sys.executable, "-c", _CHILD, which, str(pool), str(out)], check=True)
    return json.loads(out.read_text())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pool", type=Path, default=None, help="pool (default: jwst's mega_pool)")
    p.add_argument("--with-jwst", action="store_true", help="also time the official generator")
    args = p.parse_args()
    pool = args.pool
    if pool is None:
        import jwst

        pool = Path(jwst.__file__).parent / "associations/tests/data/mega_pool.csv"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        pool = _expanded_pool(folder, pool)
        results = {"webbcal": _run("webbcal", pool, folder)}
        if args.with_jwst:
            results["jwst"] = _run("jwst", pool, folder)
    print(f"pool: {pool.name}")
    for which, r in results.items():
        print(
            f"{which:8s} wall {r['wall']:8.1f} s  cpu {r['cpu']:8.1f} s  "
            f"peak RSS {r['rss_mb']:7.0f} MB  associations {len(r['keys'])}"
        )
    if "jwst" in results:
        ours, theirs = results["webbcal"], results["jwst"]
        print(
            f"speed-up: wall {theirs['wall'] / ours['wall']:.1f}x, "
            f"cpu {theirs['cpu'] / ours['cpu']:.1f}x; "
            f"memory {theirs['rss_mb'] / ours['rss_mb']:.1f}x less"
        )
        same = sorted(map(json.dumps, ours["keys"])) == sorted(map(json.dumps, theirs["keys"]))
        order = [k[0] for k in ours["keys"]] == [k[0] for k in theirs["keys"]]
        print(f"same associations: {same}; same order: {order}")


if __name__ == "__main__":
    main()
