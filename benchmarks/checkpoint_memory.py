"""Peak memory of ``wg.save`` and ``wg.load`` on a checkpoint of about 200 MB.

Each measurement runs in a fresh Python process: it imports wengert, builds
(or not) the state, notes its peak resident set size, then saves or loads
once and reports how far the peak rose above the file size.  Peak RSS is
what the operating system has to provide, including allocations made in
safetensors' Rust code that ``tracemalloc`` cannot see.

    python benchmarks/checkpoint_memory.py [--mb 200] [--dir DIR]

Prints one Markdown table: file size, peak rise during the operation, and
the rise as a multiple of the file size.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

CHILD = r"""
import json, resource, sys
import numpy as np
import wengert as wg

def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux

op, path, mb = sys.argv[1], sys.argv[2], float(sys.argv[3])
if op == "save":
    n = int(mb * 2**20 / 4 / 8)
    state = {f"layer{i}.weight": np.full(n, i, dtype=np.float32) for i in range(8)}
    before = peak_mb()
    wg.save(state, path)
else:
    before = peak_mb()
    state = wg.load(path)
    assert sum(v.nbytes for v in state.values()) > 0
print(json.dumps({"op": op, "before_mb": before, "peak_mb": peak_mb()}))
"""


def measure(op: str, path: str, mb: float) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, op, path, str(mb)], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=200.0, help="checkpoint size in MB (default 200)")
    ap.add_argument("--dir", default=None, help="where to write the file (default: a temporary directory)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path = os.path.join(tmp, "big.safetensors")
        rows = [measure("save", path, args.mb)]
        size_mb = os.path.getsize(path) / 2**20
        rows.append(measure("load", path, args.mb))
    print(f"checkpoint of {size_mb:.0f} MiB (8 float32 tensors)\n")
    print("| operation | peak rise (MiB) | x file size |")
    print("|---|---:|---:|")
    for r in rows:
        rise = r["peak_mb"] - r["before_mb"]
        print(f"| {r['op']} | {rise:.0f} | {rise / size_mb:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
