"""Zero-shot crop and region top-1 of a Shapes VLM on a captions split: the protocol of `fvlm evaluate-vlm`.

    /usr/bin/python3 eng/shapes-vlm/evaluate.py --vlm src/Microsoft.ML.FVlm.Shapes/Vlm \\
        --weights artifacts/shapes-vlm/weights.pt --data artifacts/shapes-vlm/eval-2000

Debian's Python has no ONNX Runtime, so the graphs are the PyTorch modules they were exported
from (``--weights``, written by pretrain.py); tokenizer, templates, sizes and normalisation come
from the VLM folder's manifest. Protocol:

* text: each category name through every template (manifest text_encoder.prompt_templates_file,
  else "{}"), encoded, L2-normalised, averaged, re-normalised.
* crops (images of kind "crop", label = their annotation): resized to the pretraining size
  (bilinear, half-pixel), normalised, image encoder, last level (g x g) straight into the pooler.
* regions (images of kind "scene"): the image at its own size, zero-padded (after normalisation)
  at the bottom/right to a multiple of 32; each annotation's box (COCO x, y, w, h -> x0, y0, x1, y1)
  RoIAlign-ed (aligned, sampling ratio 2, scale 1/stride, g x g) from the region level, pooled.
* top-1 of the cosine over all categories; "novel" = categories with frequency "r".

Prints JSON: crop_top1_all, crop_top1_novel, region_top1_all, region_top1_novel and counts.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from clip_bpe import ClipBpeTokenizer, read_merges  # noqa: E402
from shapes_clip import Clip, ClipConfig, class_embeddings, pad_to_multiple, region_embeddings  # noqa: E402
from shapes_data import load_split, read_templates  # noqa: E402


def load_model(weights: str) -> Clip:
    state = torch.load(weights, map_location="cpu")
    model = Clip(ClipConfig(**state["config"]))
    model.load_state_dict(state["state_dict"])
    return model.eval()


def normalizer(manifest: dict):
    enc = manifest["image_encoder"]
    mean = torch.tensor(enc["pixel_mean"]).view(1, 3, 1, 1)
    std = torch.tensor(enc["pixel_std"]).view(1, 3, 1, 1)
    return lambda px: (px.float() / 255.0 - mean) / std


@torch.no_grad()
def evaluate(model: Clip, vlm_dir: str, data_dir: str, batch: int = 256, max_images: int = 0) -> dict:
    with open(os.path.join(vlm_dir, "manifest.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    tok_info = manifest["tokenizer"]
    tok = ClipBpeTokenizer(read_merges(os.path.join(vlm_dir, tok_info["merges_file"]))[:tok_info["merge_count"]])
    templates_file = manifest["text_encoder"].get("prompt_templates_file")
    templates = read_templates(os.path.join(vlm_dir, templates_file)) if templates_file else ["{}"]
    size = manifest["image_encoder"]["pretraining_image_size"]
    multiple = manifest["image_encoder"]["size_multiple"]
    norm = normalizer(manifest)
    split = load_split(data_dir, max_images)
    novel = torch.tensor([f == "r" for f in split.frequencies])
    classes = class_embeddings(model, tok, split.categories, templates)

    crops = split.crops()
    crop_hits, crop_labels = [], []
    for i in range(0, len(crops), batch):
        chunk = crops[i:i + batch]
        px = norm(torch.stack([p.pixels for p in chunk]))
        if px.shape[-1] != size or px.shape[-2] != size:
            px = F.interpolate(px, size=(size, size), mode="bilinear", align_corners=False)
        emb = F.normalize(model.visual.attnpool(model.visual.features(px)[-1]), dim=-1)
        labels = torch.tensor([p.instances[0].category for p in chunk])
        crop_hits.append((emb @ classes.t()).argmax(1) == labels)
        crop_labels.append(labels)

    region_hits, region_labels = [], []
    for scene in split.scenes():
        px = pad_to_multiple(norm(scene.pixels.unsqueeze(0)), multiple)
        c5 = model.visual.features(px)[-1]
        boxes = torch.tensor([inst.box for inst in scene.instances], dtype=torch.float32)
        emb = F.normalize(region_embeddings(model, c5, [boxes]), dim=-1)
        labels = torch.tensor([inst.category for inst in scene.instances])
        region_hits.append((emb @ classes.t()).argmax(1) == labels)
        region_labels.append(labels)

    def top1(hits, labels, only_novel):
        if not hits:
            return None
        h, lab = torch.cat(hits), torch.cat(labels)
        keep = novel[lab] if only_novel else torch.ones_like(h)
        return round(float(h[keep].float().mean()), 4) if keep.any() else None, int(keep.sum())

    (ca, nca), (cn, ncn) = top1(crop_hits, crop_labels, False), top1(crop_hits, crop_labels, True)
    (ra, nra), (rn, nrn) = top1(region_hits, region_labels, False), top1(region_hits, region_labels, True)
    return {"crop_top1_all": ca, "crop_top1_novel": cn, "region_top1_all": ra, "region_top1_novel": rn,
            "crops": nca, "crops_novel": ncn, "regions": nra, "regions_novel": nrn}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description="Crop and region zero-shot top-1 of a Shapes VLM (fvlm evaluate-vlm's protocol).")
    p.add_argument("--vlm", required=True, help="VLM folder (manifest.json, merges, templates)")
    p.add_argument("--weights", required=True, help="weights file written by pretrain.py (the exported graphs' source)")
    p.add_argument("--data", required=True, help="captions split folder written by `fvlm shapes --split captions`")
    p.add_argument("--max-images", type=int, default=0, help="only the first N images of the split (0: all)")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(json.dumps(evaluate(load_model(args.weights), args.vlm, args.data, max_images=args.max_images)))


if __name__ == "__main__":
    main()
