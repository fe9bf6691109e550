"""The Shapes VLM: eng/clip's CLIP ResNet at small widths, plus the pieces training and evaluation share.

The model is ``clip_model.Clip`` unchanged (same code as the exported real CLIPs); this module only
chooses its sizes, initialises it as CLIP does, and implements the two image paths of the contract:
crop = image encoder at the pretraining size then the pooler; region = RoIAlign (aligned, g x g,
sampling ratio 2, scale 1/32) on C5 of the whole scene then the pooler.
"""

from __future__ import annotations

import os
import sys
from typing import List, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import roi_align

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(_HERE, "..", "clip"))
sys.path.insert(0, _HERE)

from clip_model import Clip, ClipConfig  # noqa: E402
from vlm_folder import CLIP_PIXEL_MEAN, CLIP_PIXEL_STD  # noqa: E402

C5_STRIDE = 32


def shapes_config(vocab_size: int, image_resolution: int = 64, context_length: int = 16) -> ClipConfig:
    """ModifiedResNet width 16, one block per stage (512-channel C5, 256-d embeddings); text
    transformer width 128, 2 layers, 4 heads."""
    return ClipConfig(vision_layers=(1, 1, 1, 1), vision_width=16, embed_dim=256,
                      image_resolution=image_resolution, context_length=context_length,
                      vocab_size=vocab_size, text_width=128, text_heads=4, text_layers=2)


@torch.no_grad()
def clip_init(model: Clip) -> None:
    """CLIP's own initialisation of the text tower and the attention pooling. The last BatchNorm of
    each residual branch keeps PyTorch's default (weight 1): zero-initialising it, as CLIP's
    training code does, left this one-block-per-stage tower nearly linear at the start and slowed
    it a lot (supervised probe, 2 minutes: top-1 0.06 with zeros, 0.20 without)."""
    c = model.config
    nn.init.normal_(model.token_embedding.weight, std=0.02)
    nn.init.normal_(model.positional_embedding, std=0.01)
    attn_std = c.text_width ** -0.5
    proj_std = attn_std * (2 * c.text_layers) ** -0.5
    fc_std = (2 * c.text_width) ** -0.5
    for block in model.transformer.resblocks:
        nn.init.normal_(block.attn.in_proj_weight, std=attn_std)
        nn.init.normal_(block.attn.out_proj.weight, std=proj_std)
        nn.init.normal_(block.mlp.c_fc.weight, std=fc_std)
        nn.init.normal_(block.mlp.c_proj.weight, std=proj_std)
    nn.init.normal_(model.text_projection, std=attn_std)
    pool = model.visual.attnpool
    std = pool.c_proj.in_features ** -0.5
    for layer in (pool.q_proj, pool.k_proj, pool.v_proj, pool.c_proj):
        nn.init.normal_(layer.weight, std=std)


def normalize(pixels: torch.Tensor) -> torch.Tensor:
    """uint8 [N, 3, H, W] RGB -> (value / 255 - mean) / std, float32."""
    mean = torch.tensor(CLIP_PIXEL_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_PIXEL_STD).view(1, 3, 1, 1)
    return (pixels.float() / 255.0 - mean) / std


def pad_to_multiple(x: torch.Tensor, multiple: int = 32) -> torch.Tensor:
    """Zero-pads (after normalisation) at the bottom and right to a multiple of ``multiple``."""
    h, w = x.shape[-2:]
    return F.pad(x, (0, (-w) % multiple, 0, (-h) % multiple))


def crop_embeddings(model: Clip, pixels: torch.Tensor) -> torch.Tensor:
    """Embeddings of crops already at the pretraining size (uint8 [N, 3, s, s])."""
    return model.visual.attnpool(model.visual.features(normalize(pixels))[-1])


def region_embeddings(model: Clip, c5: torch.Tensor, boxes: Sequence[torch.Tensor]) -> torch.Tensor:
    """RoIAlign (aligned) of each image's x0,y0,x1,y1 pixel boxes on C5, then the attention pooling."""
    g = model.config.grid
    rois = roi_align(c5, [b.float() for b in boxes], output_size=(g, g), spatial_scale=1.0 / C5_STRIDE,
                     sampling_ratio=2, aligned=True)
    return model.visual.attnpool(rois)


def text_embeddings(model: Clip, tokenizer, texts: List[str]) -> torch.Tensor:
    """``model.encode_text`` on the tokenized texts, cut after the longest text's end token (the same
    embeddings; Shapes texts are at most 6 of the 16 tokens)."""
    ids = torch.tensor(tokenizer.tokenize(texts, model.config.context_length), dtype=torch.int64)
    return model.encode_text(ids[:, :int(ids.argmax(dim=-1).max()) + 1])


def class_embeddings(model: Clip, tokenizer, names: List[str], templates: List[str]) -> torch.Tensor:
    """Each name through every template, encoded, L2-normalised, averaged, re-normalised: [K, D]."""
    prompts = [t.replace("{}", n) for n in names for t in templates]
    emb = F.normalize(text_embeddings(model, tokenizer, prompts), dim=-1)
    emb = emb.view(len(names), len(templates), -1).mean(dim=1)
    return F.normalize(emb, dim=-1)
