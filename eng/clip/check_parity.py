"""Runs a VLM folder's ONNX graphs on the cases of make_parity_reference.py and compares.

    /usr/bin/python3 eng/clip/check_parity.py --vlm artifacts/clip-rn50-random --ref artifacts/clip-rn50-random-parity

The graphs run in onnx_torch_eval (an ONNX interpreter on torch ops), not in ONNX Runtime: this
checks what the exporter wrote (shapes left dynamic, operator semantics) before the C# side runs
the same cases in ONNX Runtime. Error per output tensor: max|actual - expected| / max|expected|.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
import onnx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import onnx_torch_eval  # noqa: E402


def relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    scale = float(np.abs(expected).max())
    return float(np.abs(actual.astype(np.float64) - expected).max()) / (scale if scale > 0 else 1.0)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="Check a VLM folder's ONNX graphs against PyTorch reference cases.")
    p.add_argument("--vlm", required=True)
    p.add_argument("--ref", required=True)
    args = p.parse_args(argv)
    with open(os.path.join(args.vlm, "manifest.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    with open(os.path.join(args.ref, "cases.json"), encoding="utf-8") as f:
        index = json.load(f)
    tolerance = index["tolerance"]["max"]
    graphs = {}
    passed = failed = 0
    for case in index["cases"]:
        graph = case["graph"]
        if graph not in graphs:
            graphs[graph] = onnx.load(os.path.join(args.vlm, manifest[graph]["file"]))
        feeds = {name: np.load(os.path.join(args.ref, t["file"])) for name, t in case["inputs"].items()}
        start = time.time()
        actual = onnx_torch_eval.run(graphs[graph], feeds)
        seconds = time.time() - start
        for name, t in case["outputs"].items():
            expected = np.load(os.path.join(args.ref, t["file"]))
            if actual[name].shape != expected.shape:
                error, ok = float("inf"), False
            else:
                error = relative_error(actual[name], expected)
                ok = error <= tolerance
            passed, failed = passed + ok, failed + (not ok)
            print(f"{'ok  ' if ok else 'FAIL'} {case['name']:18s} {name:18s} {str(list(expected.shape)):22s} "
                  f"rel err {error:.2e}  ({seconds:.1f} s)")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
