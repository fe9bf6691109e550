"""Writes PyTorch-eager reference outputs for a VLM folder made by export_clip.py.

    /usr/bin/python3 eng/clip/make_parity_reference.py --vlm artifacts/clip-rn50-random \\
        --out artifacts/clip-rn50-random-parity --clip-data ../shared/clip

References are computed in float64 from the float32 inputs that are saved, and saved as float32,
so they are the exact function of the saved inputs up to one final rounding. The weights come from the folder's weights.pt (written by export_clip.py for random seeds, or with
--save-weights), else from the checkpoint recorded in export.json (or --checkpoint). Each case is a
set of .npy files indexed by cases.json; a consumer runs the named graph of the VLM folder on the
inputs and compares every output with max|a - b| / max|b| <= 1e-4. See docs/export-clip.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Dict, List

import numpy as np
import torch
from torchvision.ops import roi_align

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from clip_model import Clip, ClipConfig, build_from_state_dict, load_checkpoint  # noqa: E402
from export_clip import EXPORT_INFO, WEIGHTS_FILE  # noqa: E402
from vlm_folder import RegionProjector, write_json  # noqa: E402

TOLERANCE = 1e-4
TEXT_LINES = 8
CLIP_VOCAB_SIZE = 49408
# Region boxes on the 160 x 256 (H x W) image, in input pixels (x0, y0, x1, y1).
BOXES = [
    [10.0, 20.0, 120.0, 150.0],     # ordinary
    [0.0, 0.0, 256.0, 160.0],       # the whole image
    [200.0, 100.0, 300.0, 210.0],   # partly outside (right and bottom)
    [50.0, 60.0, 53.0, 62.0],       # tiny: 3 x 2 pixels, a tenth of a C5 cell
    [100.5, 30.25, 180.75, 90.5],   # fractional coordinates
]


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Write PyTorch reference cases for a VLM folder's ONNX graphs.")
    p.add_argument("--vlm", required=True, help="VLM folder written by export_clip.py")
    p.add_argument("--out", required=True, help="output folder for the .npy files and cases.json")
    p.add_argument("--clip-data", required=True, help="folder with tokenizer-reference.jsonl (the repo's ../shared/clip)")
    p.add_argument("--checkpoint", help="checkpoint to use when the folder has no weights.pt (default: the one in export.json)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs")
    return p.parse_args(argv)


def load_model(vlm: str, checkpoint: str = None) -> Clip:
    weights = os.path.join(vlm, WEIGHTS_FILE)
    info_path = os.path.join(vlm, EXPORT_INFO)
    info = None
    if os.path.isfile(info_path):
        with open(info_path, encoding="utf-8") as f:
            info = json.load(f)
    if checkpoint is None and os.path.isfile(weights):
        checkpoint = weights
    if checkpoint is None and info is not None and info.get("checkpoint"):
        checkpoint = info["checkpoint"]
    if checkpoint is None:
        raise SystemExit(f"make_parity_reference: {vlm} has no {WEIGHTS_FILE} and no checkpoint in {EXPORT_INFO}; "
                         "re-export with --save-weights or pass --checkpoint")
    state_dict, config = load_checkpoint(checkpoint)
    if config is None and info is not None:
        config = ClipConfig(**info["config"])
    model = build_from_state_dict(state_dict, config)
    if info is not None and model.config != ClipConfig(**info["config"]):
        raise SystemExit(f"make_parity_reference: {checkpoint} holds {model.config}, but {info_path} says {info['config']}")
    return model


class CaseWriter:
    """Saves arrays as <case>.<tensor>.npy and describes them in cases.json."""

    def __init__(self, out: str) -> None:
        self.out = out
        self.cases: List[dict] = []
        os.makedirs(out, exist_ok=True)

    def tensors(self, case: str, named: Dict[str, torch.Tensor]) -> Dict[str, dict]:
        entries = {}
        for name, value in named.items():
            value = value.detach().cpu()
            array = (value.float() if value.is_floating_point() else value).numpy()
            file = f"{case}.{name}.npy"
            np.save(os.path.join(self.out, file), array)
            entries[name] = {"file": file, "shape": list(array.shape), "dtype": str(array.dtype)}
        return entries

    def add(self, name: str, graph: str, inputs: Dict[str, torch.Tensor], outputs: Dict[str, torch.Tensor], **extra) -> None:
        self.cases.append({"name": name, "graph": graph, "inputs": self.tensors(name, inputs),
                           "outputs": self.tensors(name, outputs), **extra})


def pad_ids(rows: List[List[int]], length: int) -> torch.Tensor:
    """Pads with 0 to the context length; a longer row is cut and its last id set to the end token."""
    ids = torch.zeros(len(rows), length, dtype=torch.int64)
    for i, row in enumerate(rows):
        if len(row) > length:
            row = row[:length - 1] + [row[-1]]
        ids[i, :len(row)] = torch.tensor(row)
    return ids


def remap_ids(row: List[int], vocab_size: int) -> List[int]:
    """Maps CLIP-vocabulary ids into a smaller vocabulary: start/end to its start/end, other ids
    modulo its number of ordinary tokens. Only for graph parity; the ids mean nothing there."""
    ordinary = vocab_size - 2
    return [vocab_size - 2 if t == CLIP_VOCAB_SIZE - 2 else vocab_size - 1 if t == CLIP_VOCAB_SIZE - 1
            else t % ordinary for t in row]


def as_saved(x: torch.Tensor) -> torch.Tensor:
    """The float64 value of what a float32 .npy file holds: graph inputs are computed from this."""
    return x.float().double()


def image_case(writer: CaseWriter, model: Clip, name: str, n: int, h: int, w: int, gen: torch.Generator) -> tuple:
    pixels = torch.randn(n, 3, h, w, generator=gen)
    features = model.visual.features(pixels.double())
    writer.add(name, "image_encoder", {"pixel_values": pixels}, dict(zip(("c2", "c3", "c4", "c5"), features)))
    return features


def main(argv=None) -> None:
    args = parse_args(argv)
    torch.set_grad_enabled(False)
    model = load_model(args.vlm, args.checkpoint).double()    # references in float64, saved as float32
    c = model.config
    gen = torch.Generator().manual_seed(args.seed)
    writer = CaseWriter(args.out)

    image_case(writer, model, "image_224", 2, 224, 224, gen)
    c5 = image_case(writer, model, "image_160x256", 1, 160, 256, gen)[-1]
    if c.image_resolution != 224:
        image_case(writer, model, "image_pretraining", 1, c.image_resolution, c.image_resolution, gen)
    # The image-level embedding: the last map at the pretraining size is already g x g.
    pretraining_case = "image_224" if c.image_resolution == 224 else "image_pretraining"
    pretraining_c5 = torch.from_numpy(np.load(os.path.join(args.out, f"{pretraining_case}.c5.npy"))).double()
    writer.add("image_embedding", "region_pooler", {"roi_features": pretraining_c5},
               {"region_embeddings": model.visual.attnpool(pretraining_c5)},
               source={"case": pretraining_case, "output": "c5"})

    boxes = torch.tensor(BOXES, dtype=torch.float64)
    rois = roi_align(as_saved(c5), [boxes], output_size=c.grid, spatial_scale=1 / 32, sampling_ratio=2, aligned=True)
    writer.add("region", "region_pooler", {"roi_features": rois}, {"region_embeddings": model.visual.attnpool(as_saved(rois))},
               source={"case": "image_160x256", "output": "c5", "batch_index": 0,
                       "boxes": writer.tensors("region", {"boxes": boxes})["boxes"],
                       "box_format": "x0, y0, x1, y1 in input pixels",
                       "roi_align": {"output_size": c.grid, "spatial_scale": 1 / 32, "sampling_ratio": 2, "aligned": True}})

    # The factorized region path: the projected map, then the rest of the attention pool on its RoIAlign,
    # against the same region embeddings as the "region" case.
    projected = RegionProjector(model)(as_saved(c5))
    writer.add("region_map", "region_projector", {"region_map": c5}, {"projected_map": projected},
               source={"case": "image_160x256", "output": "c5"})
    projected_rois = roi_align(as_saved(projected), [boxes], output_size=c.grid, spatial_scale=1 / 32, sampling_ratio=2,
                               aligned=True).permute(0, 2, 3, 1)   # channels last, as region_attention reads it
    writer.add("region_factorized", "region_attention", {"projected_roi_features": projected_rois},
               {"region_embeddings": model.visual.attnpool(as_saved(rois))},
               source={"case": "region_map", "output": "projected_map", "batch_index": 0,
                       "boxes": writer.tensors("region", {"boxes": boxes})["boxes"],
                       "roi_align": {"output_size": c.grid, "spatial_scale": 1 / 32, "sampling_ratio": 2, "aligned": True}})

    with open(os.path.join(args.clip_data, "tokenizer-reference.jsonl"), encoding="utf-8") as f:
        lines = [json.loads(line) for line in f if line.strip()]
    texts = [line["text"] for line in lines[:TEXT_LINES]]
    rows = [line["ids"] for line in lines[:TEXT_LINES]]
    # One row longer than the context: the ordinary ids of every reference line, cut to length.
    long_row = [CLIP_VOCAB_SIZE - 2] + [t for line in lines for t in line["ids"][1:-1]][:c.context_length] + [CLIP_VOCAB_SIZE - 1]
    remapped = c.vocab_size != CLIP_VOCAB_SIZE
    if remapped:
        rows, long_row = [remap_ids(r, c.vocab_size) for r in rows], remap_ids(long_row, c.vocab_size)
    ids = pad_ids(rows, c.context_length)
    writer.add("text", "text_encoder", {"input_ids": ids}, {"text_embeddings": model.encode_text(ids)},
               texts=texts, ids_remapped=remapped)
    long_ids = pad_ids([long_row], c.context_length)
    writer.add("text_truncated", "text_encoder", {"input_ids": long_ids}, {"text_embeddings": model.encode_text(long_ids)},
               texts=None, ids_remapped=remapped,
               note="ordinary ids of all tokenizer-reference lines concatenated; truncated, end token at the last position")

    with open(os.path.join(args.vlm, "manifest.json"), encoding="utf-8") as f:
        name = json.load(f)["name"]
    index = {
        "format": "fvlm-vlm-parity",
        "version": 1,
        "vlm": name,
        "tolerance": {"metric": "max|actual - expected| / max|expected|, per output tensor", "max": TOLERANCE},
        "generated_by": {"script": "eng/clip/make_parity_reference.py", "torch": torch.__version__, "input_seed": args.seed,
                         "precision": "float64 from the saved float32 inputs, saved as float32"},
        "cases": writer.cases,
    }
    write_json(os.path.join(args.out, "cases.json"), index)
    size = sum(os.path.getsize(os.path.join(args.out, f)) for f in os.listdir(args.out))
    print(f"{len(writer.cases)} cases for {name} in {args.out} ({size / 2 ** 20:.1f} MiB)")


if __name__ == "__main__":
    main()
