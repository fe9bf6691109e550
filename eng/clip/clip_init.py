"""Random but well-scaled CLIP weights, for parity tests of the exported graphs.

A parity test compares two implementations of the same function; it only means something if the
activations are neither all zero nor overflowing. CLIP's own initialisation zeroes the last
BatchNorm of every residual branch and leaves running statistics at (0, 1), which would make the
ResNet nearly an identity of its stem. Here instead:

* BatchNorm affine parameters are random (weight in [0.5, 1.5], bias in [-0.2, 0.2]) and the running
  statistics are measured by a calibration pass (train mode, cumulative averages) on random
  inputs, so every normalised activation is close to unit scale in eval mode;
* except that the last BatchNorm of each residual branch (``layerN.M.bn3``) has weight in
  [0.1, 0.3], as in trained ResNets. With unit-scale branches the random ResNet is chaotic: float32
  rounding alone moved RN50's C5 by 6e-5 (relative to its largest value) from float64, too close to
  the 1e-4 parity tolerance; with small branches it is 2.4e-6;
* attention pooling and the text tower use CLIP's normal initialisation (std width^-0.5 for the
  projections, 0.02 / 0.01 for the embeddings) with small random biases and LayerNorm affines;
* the logit scale is log(100), CLIP's trained (capped) value, so the temperature is 0.01.

Everything depends only on the seed (and on the calibration arithmetic of the machine).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from clip_model import Clip, ClipConfig


@torch.no_grad()
def random_clip(config: ClipConfig, seed: int, calibration_batches: int = 2, calibration_batch_size: int = 2) -> Clip:
    """Builds a model with seeded random weights and calibrated BatchNorm statistics (eval mode)."""
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = Clip(config)

    def normal_(t: torch.Tensor, std: float) -> None:
        t.copy_(torch.randn(t.shape, generator=generator) * std)

    def uniform_(t: torch.Tensor, low: float, high: float) -> None:
        t.copy_(torch.rand(t.shape, generator=generator) * (high - low) + low)

    for name, module in model.visual.named_modules():
        if isinstance(module, nn.Conv2d):
            fan_in = module.in_channels * module.kernel_size[0] * module.kernel_size[1]
            normal_(module.weight, math.sqrt(2.0 / fan_in))
        elif isinstance(module, nn.BatchNorm2d):
            residual_branch_end = name.startswith("layer") and name.endswith(".bn3")
            uniform_(module.weight, *((0.1, 0.3) if residual_branch_end else (0.5, 1.5)))
            uniform_(module.bias, -0.2, 0.2)

    pool = model.visual.attnpool
    channels = pool.c_proj.in_features
    normal_(pool.positional_embedding, channels ** -0.5)
    for linear in (pool.q_proj, pool.k_proj, pool.v_proj, pool.c_proj):
        normal_(linear.weight, channels ** -0.5)
        normal_(linear.bias, 0.02)

    width, layers = config.text_width, config.text_layers
    proj_std = width ** -0.5 * (2 * layers) ** -0.5
    normal_(model.token_embedding.weight, 0.02)
    normal_(model.positional_embedding, 0.01)
    for block in model.transformer.resblocks:
        normal_(block.attn.in_proj_weight, width ** -0.5)
        normal_(block.attn.in_proj_bias, 0.02)
        normal_(block.attn.out_proj.weight, proj_std)
        normal_(block.attn.out_proj.bias, 0.02)
        normal_(block.mlp.c_fc.weight, (2 * width) ** -0.5)
        normal_(block.mlp.c_fc.bias, 0.02)
        normal_(block.mlp.c_proj.weight, proj_std)
        normal_(block.mlp.c_proj.bias, 0.02)
    for norm in [m for m in model.modules() if isinstance(m, nn.LayerNorm)]:
        normal_(norm.weight, 0.1)
        norm.weight.add_(1.0)
        normal_(norm.bias, 0.05)
    normal_(model.text_projection, width ** -0.5)
    model.logit_scale.fill_(math.log(100.0))

    calibrate_batch_norm(model.visual, config.image_resolution, generator, calibration_batches, calibration_batch_size)
    return model.eval()


@torch.no_grad()
def calibrate_batch_norm(visual: nn.Module, size: int, generator: torch.Generator, batches: int, batch_size: int) -> None:
    """Sets every BatchNorm's running statistics to the average over random-normal input batches."""
    norms = [m for m in visual.modules() if isinstance(m, nn.BatchNorm2d)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None                    # cumulative moving average over the batches
    visual.train()
    for _ in range(batches):
        visual.features(torch.randn(batch_size, 3, size, size, generator=generator))
    for norm in norms:
        norm.momentum = 0.1
    visual.eval()
