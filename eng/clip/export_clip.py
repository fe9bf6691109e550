"""Exports a CLIP ResNet (OpenAI checkpoint or seeded random weights) as a VLM folder.

    /usr/bin/python3 eng/clip/export_clip.py --arch RN50 --checkpoint RN50.pt \\
        --merges bpe_simple_vocab_16e6.txt.gz --out models/clip-rn50
    /usr/bin/python3 eng/clip/export_clip.py --arch RN50 --random-seed 0 \\
        --merges ../shared/clip/bpe_simple_vocab_16e6.txt.gz --out artifacts/clip-rn50-random

Nothing is downloaded. See docs/export-clip.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from clip_init import random_clip  # noqa: E402
from clip_model import PRESETS, ClipConfig, build_from_state_dict, infer_config, load_checkpoint, save_weights  # noqa: E402
from vlm_folder import OPSET, write_json, write_vlm_folder  # noqa: E402

EXPORT_INFO = "export.json"
WEIGHTS_FILE = "weights.pt"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Export a CLIP ResNet as an F-VLM VLM folder (docs/vlm-contract.md).")
    arch = p.add_mutually_exclusive_group()
    arch.add_argument("--arch", choices=sorted(PRESETS), help="architecture preset")
    arch.add_argument("--config", help="JSON file with ClipConfig fields, for custom sizes")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="OpenAI CLIP .pt file (TorchScript) or a saved state dict")
    src.add_argument("--random-seed", type=int, help="use seeded random, well-scaled weights (parity tests)")
    p.add_argument("--merges", required=True, help="CLIP BPE merges file (bpe_simple_vocab_16e6.txt.gz); copied into the folder")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--name", help="manifest name (default clip-<arch>, with -random-s<seed> for random weights)")
    p.add_argument("--save-weights", action=argparse.BooleanOptionalAction, default=None,
                   help=f"also write {WEIGHTS_FILE} (float32 state dict + config) for make_parity_reference.py; "
                        "default: yes for --random-seed, no for --checkpoint")
    return p.parse_args(argv)


def requested_config(args: argparse.Namespace):
    if args.arch:
        return PRESETS[args.arch]
    if args.config:
        with open(args.config, encoding="utf-8") as f:
            return ClipConfig(**json.load(f))
    return None


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def build_model(args: argparse.Namespace):
    config = requested_config(args)
    if args.random_seed is not None:
        if config is None:
            sys.exit("export_clip: --random-seed needs --arch or --config to know the model's sizes")
        return random_clip(config, args.random_seed), {"random_seed": args.random_seed}
    state_dict, saved = load_checkpoint(args.checkpoint)
    # Head counts are not in the weights: take them from --arch/--config when given, else width / 64.
    found = saved or infer_config(state_dict, text_heads=config and config.text_heads,
                                  vision_heads=config and config.vision_heads)
    if config is not None and config != found:
        sys.exit(f"export_clip: {args.checkpoint} holds {found}, not the requested {config}")
    return build_from_state_dict(state_dict, found), {"checkpoint": os.path.abspath(args.checkpoint),
                                                      "checkpoint_sha256": sha256(args.checkpoint)}


def default_name(args: argparse.Namespace) -> str:
    base = f"clip-{args.arch.lower()}" if args.arch else "clip-custom"
    return base if args.random_seed is None else f"{base}-random-s{args.random_seed}"


def folder_size(path: str) -> int:
    return sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path))


def main(argv=None) -> None:
    args = parse_args(argv)
    if not os.path.isfile(args.merges):
        sys.exit(f"export_clip: --merges '{args.merges}' does not exist")
    if args.checkpoint is None and args.arch is None and args.config is None:
        sys.exit("export_clip: give --arch or --config")
    torch.set_grad_enabled(False)
    start = time.time()
    try:
        model, source = build_model(args)
    except (OSError, ValueError, RuntimeError) as e:
        sys.exit(f"export_clip: {e}")
    built = time.time()
    name = args.name or default_name(args)
    try:
        write_vlm_folder(model, args.out, args.merges, name)
    except ValueError as e:
        sys.exit(f"export_clip: {e}")
    exported = time.time()
    save = args.save_weights if args.save_weights is not None else args.random_seed is not None
    if save:
        save_weights(model, os.path.join(args.out, WEIGHTS_FILE))
    info = {"name": name, "arch": args.arch, "config": model.config.to_dict(), **source,
            "weights_file": WEIGHTS_FILE if save else None, "opset": OPSET, "torch": torch.__version__}
    write_json(os.path.join(args.out, EXPORT_INFO), info)
    params = sum(p.numel() for p in model.parameters())
    print(f"{name}: {params / 1e6:.1f} M parameters; weights {built - start:.1f} s, "
          f"ONNX export + checks {exported - built:.1f} s, total {time.time() - start:.1f} s")
    for f in sorted(os.listdir(args.out)):
        print(f"  {f:32s} {os.path.getsize(os.path.join(args.out, f)) / 2 ** 20:9.1f} MiB")
    print(f"  {'(folder)':32s} {folder_size(args.out) / 2 ** 20:9.1f} MiB")


if __name__ == "__main__":
    main()
