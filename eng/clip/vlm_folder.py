"""Writes a CLIP ResNet model as a VLM folder (docs/vlm-contract.md, manifest version 2)."""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
from typing import Dict, List, Tuple

import onnx
import torch
from torch import nn

import torch.nn.functional as F

from clip_model import Clip, attention

OPSET = 14
LEVELS = ("c2", "c3", "c4", "c5")
STRIDES = (4, 8, 16, 32)
CLIP_PIXEL_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_PIXEL_STD = [0.26862954, 0.26130258, 0.27577711]
IMAGE_FILE, POOLER_FILE, TEXT_FILE = "image_encoder.onnx", "region_pooler.onnx", "text_encoder.onnx"
PROJECTOR_FILE, ATTENTION_FILE = "region_projector.onnx", "region_attention.onnx"


class ImageEncoder(nn.Module):
    """pixel_values [N, 3, H, W] -> (c2, c3, c4, c5): the outputs of layer1..layer4."""

    def __init__(self, model: Clip) -> None:
        super().__init__()
        self.visual = model.visual

    def forward(self, pixel_values: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        return self.visual.features(pixel_values)


class RegionPooler(nn.Module):
    """roi_features [R, C5, g, g] -> region_embeddings [R, D]: the tower's attention pooling."""

    def __init__(self, model: Clip) -> None:
        super().__init__()
        self.attnpool = model.visual.attnpool

    def forward(self, roi_features: torch.Tensor) -> torch.Tensor:
        return self.attnpool(roi_features)


class RegionProjector(nn.Module):
    """region_map [N, C5, h, w] -> projected_map [N, 3 C5, h, w]: the attention pool's query, key and
    value projections of every position of the map, without their biases or the positional embedding.

    The attention pool's first operation on each token is linear, and RoIAlign is linear in the map,
    so projecting the whole map once and pooling the projected map per box gives the projections of
    the pooled tokens exactly (up to rounding). With 1,000 boxes of 7 x 7 bins on RN50's 2,048
    channels, the projections are then computed on the map's positions instead of 50,000 tokens.
    """

    def __init__(self, model: Clip) -> None:
        super().__init__()
        pool = model.visual.attnpool
        weight = torch.cat([pool.q_proj.weight, pool.k_proj.weight, pool.v_proj.weight])   # [3C, C]
        self.register_buffer("weight", weight[:, :, None, None].clone())

    def forward(self, region_map: torch.Tensor) -> torch.Tensor:
        return F.conv2d(region_map, self.weight)


class RegionAttention(nn.Module):
    """projected_roi_features [R, g, g, 3 C5] (RoIAlign of RegionProjector's map, channels last: the
    layout RoIAlign samples in and attention reads, so neither side transposes) -> region_embeddings
    [R, D]: the rest of the attention pool. Token 0 is the mean of the g*g tokens (the projection of
    the mean is the mean of the projections); each token's projection gets the projected positional
    embedding and the bias; one query attends to the g*g+1 keys; the output projection."""

    def __init__(self, model: Clip) -> None:
        super().__init__()
        pool = model.visual.attnpool
        self.channels, self.heads, self.c_proj = pool.q_proj.in_features, pool.heads, pool.c_proj
        pos = pool.positional_embedding
        self.register_buffer("q_offset", (pos[:1] @ pool.q_proj.weight.t() + pool.q_proj.bias).detach().clone())
        self.register_buffer("k_offset", (pos @ pool.k_proj.weight.t() + pool.k_proj.bias).detach().clone())
        self.register_buffer("v_offset", (pos @ pool.v_proj.weight.t() + pool.v_proj.bias).detach().clone())

    def forward(self, projected: torch.Tensor) -> torch.Tensor:
        tokens = projected.flatten(1, 2)                                   # [R, g*g, 3C]
        tokens = torch.cat([tokens.mean(dim=1, keepdim=True), tokens], dim=1)
        c = self.channels
        q, k, v = tokens[:, :, :c], tokens[:, :, c:2 * c], tokens[:, :, 2 * c:]
        pooled = attention(q[:, :1] + self.q_offset, k + self.k_offset, v + self.v_offset, self.heads)
        return self.c_proj(pooled[:, 0])


class TextEncoder(nn.Module):
    """input_ids [K, L] int64 -> text_embeddings [K, D]."""

    def __init__(self, model: Clip) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.model.encode_text(input_ids)


def count_merges(path: str) -> int:
    """Number of merge lines in a CLIP merges file (gzip or plain text; the first line is a header)."""
    with open(path, "rb") as f:
        gzipped = f.read(2) == b"\x1f\x8b"
    opener = gzip.open if gzipped else open
    with opener(path, "rt", encoding="utf-8") as f:
        lines = f.read().split("\n")
    return sum(1 for line in lines[1:] if line.strip())


def write_json(path: str, value: dict) -> None:
    """Indented JSON with lists of numbers kept on one line."""
    text = json.dumps(value, indent=2)
    text = re.sub(r"\[([-\d\s,.e]+)\]", lambda m: "[" + " ".join(m.group(1).split()) + "]", text)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text + "\n")


def manifest(model: Clip, name: str, merges_file: str) -> dict:
    c = model.config
    merge_count = c.vocab_size - 512 - 2
    return {
        "format": "fvlm-vlm",
        "version": 2,
        "name": name,
        "embedding_dim": c.embed_dim,
        "logit_temperature": round(model.logit_temperature, 8),
        "image_encoder": {
            "file": IMAGE_FILE,
            "input": "pixel_values",
            "size_multiple": 32,
            "pretraining_image_size": c.image_resolution,
            "pixel_mean": CLIP_PIXEL_MEAN,
            "pixel_std": CLIP_PIXEL_STD,
            "feature_levels": [{"name": n, "stride": s, "channels": ch}
                               for n, s, ch in zip(LEVELS, STRIDES, c.feature_channels)],
        },
        "region_pooler": {
            "file": POOLER_FILE,
            "input": "roi_features",
            "output": "region_embeddings",
            "region_level": "c5",
            "roi_output_size": c.grid,
        },
        "region_projector": {
            "file": PROJECTOR_FILE,
            "input": "region_map",
            "output": "projected_map",
            "channels": 3 * c.feature_channels[-1],
        },
        "region_attention": {
            "file": ATTENTION_FILE,
            "input": "projected_roi_features",
            "output": "region_embeddings",
        },
        "text_encoder": {
            "file": TEXT_FILE,
            "input": "input_ids",
            "output": "text_embeddings",
            "context_length": c.context_length,
        },
        "tokenizer": {
            "kind": "clip-bpe",
            "merges_file": merges_file,
            "merge_count": merge_count,
            "start_id": 512 + merge_count,
            "end_id": 513 + merge_count,
        },
    }


def _export(module: nn.Module, args: tuple, path: str, inputs: List[str], outputs: List[str],
            dynamic: Dict[str, Dict[int, str]]) -> None:
    with torch.no_grad():
        torch.onnx.export(module.eval(), args, path, opset_version=OPSET, input_names=inputs,
                          output_names=outputs, dynamic_axes=dynamic, do_constant_folding=True)
    graph = onnx.load(path)
    onnx.checker.check_model(graph)
    onnx.shape_inference.infer_shapes(graph, check_type=True, strict_mode=True)


def export_graphs(model: Clip, out_dir: str) -> None:
    """Writes the five ONNX graphs and checks each with onnx.checker and shape inference."""
    c = model.config
    model.eval()
    g, s = c.grid, c.image_resolution
    # Trace with N > 1 and H != W so that nothing batch- or shape-specific is baked in.
    _export(ImageEncoder(model), (torch.randn(2, 3, s, s + 32),), os.path.join(out_dir, IMAGE_FILE),
            ["pixel_values"], list(LEVELS),
            {"pixel_values": {0: "N", 2: "H", 3: "W"},
             **{n: {0: "N", 2: f"H{st}", 3: f"W{st}"} for n, st in zip(LEVELS, STRIDES)}})
    _export(RegionPooler(model), (torch.randn(3, c.feature_channels[-1], g, g),), os.path.join(out_dir, POOLER_FILE),
            ["roi_features"], ["region_embeddings"],
            {"roi_features": {0: "R"}, "region_embeddings": {0: "R"}})
    c5 = c.feature_channels[-1]
    _export(RegionProjector(model), (torch.randn(2, c5, g + 1, g + 3),), os.path.join(out_dir, PROJECTOR_FILE),
            ["region_map"], ["projected_map"],
            {"region_map": {0: "N", 2: "h", 3: "w"}, "projected_map": {0: "N", 2: "h", 3: "w"}})
    _export(RegionAttention(model), (torch.randn(3, g, g, 3 * c5),), os.path.join(out_dir, ATTENTION_FILE),
            ["projected_roi_features"], ["region_embeddings"],
            {"projected_roi_features": {0: "R"}, "region_embeddings": {0: "R"}})
    ids = torch.zeros(2, c.context_length, dtype=torch.int64)
    ids[:, 0] = c.vocab_size - 2
    ids[0, 1:4] = torch.tensor([300, 301, c.vocab_size - 1])
    ids[1, 1] = c.vocab_size - 1
    _export(TextEncoder(model), (ids,), os.path.join(out_dir, TEXT_FILE),
            ["input_ids"], ["text_embeddings"],
            {"input_ids": {0: "K"}, "text_embeddings": {0: "K"}})


def write_vlm_folder(model: Clip, out_dir: str, merges_path: str, name: str, templates_path: str = None) -> dict:
    """Writes manifest.json, the five graphs, a copy of the merges file and, if given, of the
    prompt templates file (one template per line, "{}" for the class name). Returns the manifest."""
    merge_count = model.config.vocab_size - 514
    available = count_merges(merges_path)
    if available < merge_count:
        raise ValueError(f"{merges_path}: has {available} merges, but the text tower's vocabulary of "
                         f"{model.config.vocab_size} needs {merge_count} (vocab_size - 514)")
    os.makedirs(out_dir, exist_ok=True)
    merges_file = os.path.basename(merges_path)
    info = manifest(model, name, merges_file)
    export_graphs(model, out_dir)
    target = os.path.join(out_dir, merges_file)
    if os.path.abspath(target) != os.path.abspath(merges_path):
        shutil.copyfile(merges_path, target)
    if templates_path is not None:
        with open(templates_path, encoding="utf-8") as f:
            templates = [line.strip() for line in f if line.strip()]
        bad = [t for t in templates if "{}" not in t]
        if not templates or bad:
            raise ValueError(f"{templates_path}: every template needs {{}} for the class name; check {bad[:3] or 'the empty file'}")
        templates_file = os.path.basename(templates_path)
        if os.path.abspath(os.path.join(out_dir, templates_file)) != os.path.abspath(templates_path):
            shutil.copyfile(templates_path, os.path.join(out_dir, templates_file))
        info["text_encoder"]["prompt_templates_file"] = templates_file
    write_json(os.path.join(out_dir, "manifest.json"), info)
    return info
