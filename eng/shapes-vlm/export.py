"""Exports pretrained Shapes VLM weights as a VLM folder (docs/vlm-contract.md) with eng/clip's exporter.

    /usr/bin/python3 eng/shapes-vlm/export.py --weights weights.pt --merges bpe_shapes_vocab.txt \\
        --templates templates.txt --out src/Microsoft.ML.FVlm.Shapes/Vlm

Writes manifest.json, image_encoder.onnx, region_pooler.onnx, text_encoder.onnx, the merges file
and the templates file, and names the templates in manifest text_encoder.prompt_templates_file.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from evaluate import load_model  # noqa: E402
from vlm_folder import write_vlm_folder  # noqa: E402  (eng/clip, on the path through shapes_clip)

TEMPLATES_FILE = "templates.txt"
MAX_BYTES = 20 * 2 ** 20


def export(weights: str, merges: str, templates: str, out: str, name: str) -> dict:
    model = load_model(weights)
    with torch.no_grad():
        info = write_vlm_folder(model, out, merges, name)
    target = os.path.join(out, TEMPLATES_FILE)
    if os.path.abspath(target) != os.path.abspath(templates):
        shutil.copyfile(templates, target)
    info["text_encoder"]["prompt_templates_file"] = TEMPLATES_FILE
    with open(os.path.join(out, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(info, f, indent=2)
        f.write("\n")
    return info


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description="Export the Shapes VLM into a VLM folder.")
    p.add_argument("--weights", required=True, help="weights file written by pretrain.py")
    p.add_argument("--merges", required=True, help="BPE merges file (learn_bpe.py); copied into the folder")
    p.add_argument("--templates", required=True, help="prompt templates file; copied as templates.txt")
    p.add_argument("--out", required=True, help="VLM folder to write")
    p.add_argument("--name", default="shapes-clip", help="manifest name")
    args = p.parse_args(argv)
    export(args.weights, args.merges, args.templates, args.out, args.name)
    total = 0
    for f in sorted(os.listdir(args.out)):
        size = os.path.getsize(os.path.join(args.out, f))
        total += size
        print(f"  {f:28s} {size / 2 ** 20:7.2f} MiB")
    print(f"  {'(folder)':28s} {total / 2 ** 20:7.2f} MiB")
    if total > MAX_BYTES:
        sys.exit(f"export: {args.out} is {total / 2 ** 20:.1f} MiB, over the 20 MiB budget")


if __name__ == "__main__":
    main()
