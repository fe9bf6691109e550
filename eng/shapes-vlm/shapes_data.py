"""Reads a Shapes captions split (`fvlm shapes --split captions`) into memory.

Layout: DIR/captions.json (COCO-like; each image has "kind" = "crop" or "scene" and a "caption";
each annotation has "category_id", "bbox" [x, y, w, h] in pixels, "caption" such as "a red hexagon"
and "color") and DIR/captions/*.png.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Dict, List

import numpy as np
import torch
from PIL import Image


def read_templates(path: str) -> List[str]:
    """Prompt templates, one per line ({} = class name); blank lines skipped. Missing file: ["{}"]."""
    if not path or not os.path.isfile(path):
        return ["{}"]
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f if line.strip()]


@dataclass
class Instance:
    category: int        # 0-based index into Split.categories
    color: str
    box: List[float]     # x0, y0, x1, y1 in pixels


@dataclass
class Picture:
    kind: str                    # "crop" or "scene"
    pixels: torch.Tensor         # uint8 [3, H, W]
    instances: List[Instance]


@dataclass
class Split:
    categories: List[str]        # names, in category-id order
    frequencies: List[str]       # "f", "c" or "r", same order
    colors: List[str]            # colour names seen in the split, sorted
    pictures: List[Picture]

    def crops(self) -> List[Picture]:
        return [p for p in self.pictures if p.kind == "crop" and p.instances]

    def scenes(self) -> List[Picture]:
        return [p for p in self.pictures if p.kind == "scene" and p.instances]


def load_split(folder: str, max_images: int = 0) -> Split:
    """Reads the split; ``max_images`` > 0 keeps only the first that many images."""
    path = os.path.join(folder, "captions.json")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} does not exist: write it with `fvlm shapes --split captions --out {folder}`")
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    cats = sorted(data["categories"], key=lambda c: c["id"])
    index_of: Dict[int, int] = {c["id"]: i for i, c in enumerate(cats)}
    by_image: Dict[int, List[Instance]] = {}
    colors = set()
    for ann in data["annotations"]:
        x, y, w, h = ann["bbox"]
        color = ann.get("color", "")
        colors.add(color)
        by_image.setdefault(ann["image_id"], []).append(Instance(index_of[ann["category_id"]], color, [x, y, x + w, y + h]))
    pictures = []
    images = data["images"][:max_images] if max_images > 0 else data["images"]
    for image in images:
        if "kind" not in image:
            raise ValueError(f"{path}: image {image['id']} has no 'kind': not a captions split")
        file = os.path.join(folder, "captions", os.path.basename(image["file_name"]))
        if not os.path.isfile(file):
            file = os.path.join(folder, image["file_name"])
        rgb = np.asarray(Image.open(file).convert("RGB"))
        pictures.append(Picture(image["kind"], torch.from_numpy(rgb.copy()).permute(2, 0, 1).contiguous(),
                                by_image.get(image["id"], [])))
    return Split([c["name"] for c in cats], [c.get("frequency", "") for c in cats], sorted(colors), pictures)
