"""The project's own definition of CLIP's ResNet models (image tower + text tower).

Written for export to ONNX: attention is plain matmul/softmax, the end-token gather is a
GatherElements, and nothing depends on the batch size at trace time. Parameter names match the
keys of OpenAI's CLIP state dicts, so an OpenAI checkpoint loads with ``strict=True``.

Architecture (public facts about CLIP's ModifiedResNet and text transformer):

* image tower: a stem of three 3x3 convolutions (the first with stride 2; widths w/2, w/2, w),
  each followed by BatchNorm and ReLU, then a 2x2 average pool; four stages of bottleneck blocks
  (widths w, 2w, 4w, 8w, expansion 4) where a strided block downsamples by average pooling
  (anti-aliased) instead of strided convolution; attention pooling over the last map, with the
  mean of the map as the only query.
* text tower: token + positional embeddings, pre-LayerNorm residual blocks with causal
  self-attention and a QuickGELU MLP, a final LayerNorm, the row at the end token (the largest
  id of each sequence) projected to the joint embedding space.
"""

from __future__ import annotations

import math
import os
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class ClipConfig:
    """Sizes of a CLIP ResNet model. ``vision_heads`` defaults to ``vision_width * 32 // 64``."""

    vision_layers: Tuple[int, int, int, int]
    vision_width: int
    embed_dim: int
    image_resolution: int
    context_length: int
    vocab_size: int
    text_width: int
    text_heads: int
    text_layers: int
    vision_heads: Optional[int] = field(default=None)

    def __post_init__(self) -> None:
        self.vision_layers = tuple(int(n) for n in self.vision_layers)
        if len(self.vision_layers) != 4 or min(self.vision_layers) < 1:
            raise ValueError(f"vision_layers must be four positive block counts, got {self.vision_layers}")
        if self.vision_heads is None:
            self.vision_heads = self.vision_width * 32 // 64
        if self.image_resolution % 32 != 0:
            raise ValueError(f"image_resolution must be a multiple of 32, got {self.image_resolution}")
        if (self.vision_width * 32) % self.vision_heads != 0:
            raise ValueError(f"vision_heads ({self.vision_heads}) must divide the attention-pool width {self.vision_width * 32}")
        if self.text_width % self.text_heads != 0:
            raise ValueError(f"text_heads ({self.text_heads}) must divide text_width ({self.text_width})")
        if self.vocab_size < 514:
            raise ValueError(f"vocab_size must be at least 514 (256 bytes, 256 bytes+</w>, start, end), got {self.vocab_size}")

    @property
    def grid(self) -> int:
        """Side of the last feature map at the pretraining resolution (the pooler's g)."""
        return self.image_resolution // 32

    @property
    def feature_channels(self) -> Tuple[int, int, int, int]:
        """Channels of layer1..layer4 (C2..C5)."""
        return tuple(self.vision_width * 4 * 2 ** i for i in range(4))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["vision_layers"] = list(self.vision_layers)
        return d


PRESETS: Dict[str, ClipConfig] = {
    "RN50": ClipConfig((3, 4, 6, 3), 64, 1024, 224, 77, 49408, 512, 8, 12),
    "RN50x4": ClipConfig((4, 6, 10, 6), 80, 640, 288, 77, 49408, 640, 10, 12),
    "RN50x16": ClipConfig((6, 8, 18, 8), 96, 768, 384, 77, 49408, 768, 12, 12),
    "RN50x64": ClipConfig((3, 15, 36, 10), 128, 1024, 448, 77, 49408, 1024, 16, 12),
}

# Entries some checkpoints carry next to the weights; they are not parameters. OpenAI's archives
# hold the first three; a TorchScript archive of this module also holds its non-persistent mask.
NON_PARAMETER_KEYS = ("input_resolution", "context_length", "vocab_size", "causal_mask")


def infer_config(state_dict: Dict[str, torch.Tensor], text_heads: Optional[int] = None,
                 vision_heads: Optional[int] = None) -> ClipConfig:
    """Reads the sizes of a ResNet CLIP from its state dict. Head counts are not stored in the
    weights; by CLIP's convention they are width / 64 unless given."""
    def need(key: str) -> torch.Tensor:
        if key not in state_dict:
            raise ValueError(f"state dict has no '{key}': not a CLIP ResNet checkpoint")
        return state_dict[key]

    layers = tuple(len({k.split(".")[2] for k in state_dict if k.startswith(f"visual.layer{b}.")})
                   for b in (1, 2, 3, 4))
    if min(layers) == 0:
        raise ValueError("state dict has no 'visual.layer1..4' blocks: not a CLIP ResNet (ViT checkpoints are not supported)")
    pos = need("visual.attnpool.positional_embedding")
    grid = round((pos.shape[0] - 1) ** 0.5)
    text_width = need("ln_final.weight").shape[0]
    return ClipConfig(
        vision_layers=layers,
        vision_width=need("visual.layer1.0.conv1.weight").shape[0],
        embed_dim=need("text_projection").shape[1],
        image_resolution=grid * 32,
        context_length=need("positional_embedding").shape[0],
        vocab_size=need("token_embedding.weight").shape[0],
        text_width=text_width,
        text_heads=text_heads or max(1, text_width // 64),
        text_layers=len({k.split(".")[2] for k in state_dict if k.startswith("transformer.resblocks.")}),
        vision_heads=vision_heads)


def conv_bn(in_ch: int, out_ch: int, kernel: int) -> Tuple[nn.Conv2d, nn.BatchNorm2d]:
    return nn.Conv2d(in_ch, out_ch, kernel, padding=kernel // 2, bias=False), nn.BatchNorm2d(out_ch)


class Bottleneck(nn.Module):
    """1x1 -> 3x3 -> (avg-pool when strided) -> 1x1 (x4 channels), with an average-pool shortcut."""

    expansion = 4

    def __init__(self, in_ch: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        out_ch = planes * self.expansion
        self.conv1, self.bn1 = conv_bn(in_ch, planes, 1)
        self.conv2, self.bn2 = conv_bn(planes, planes, 3)
        self.avgpool = nn.AvgPool2d(stride) if stride > 1 else nn.Identity()
        self.conv3, self.bn3 = conv_bn(planes, out_ch, 1)
        self.downsample = None
        if stride > 1 or in_ch != out_ch:
            self.downsample = nn.Sequential(OrderedDict([
                ("-1", nn.AvgPool2d(stride)),
                ("0", nn.Conv2d(in_ch, out_ch, 1, bias=False)),
                ("1", nn.BatchNorm2d(out_ch)),
            ]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(self.avgpool(y)))
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(y + shortcut)


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int,
              mask: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Multi-head scaled dot-product attention on batch-first [B, Lq, C] / [B, Lk, C] tensors."""
    b, lq, c = q.shape
    lk = k.shape[1]
    hd = c // heads
    q = q.reshape(b, lq, heads, hd).transpose(1, 2) * (hd ** -0.5)
    k = k.reshape(b, lk, heads, hd).transpose(1, 2)
    v = v.reshape(b, lk, heads, hd).transpose(1, 2)
    scores = torch.matmul(q, k.transpose(2, 3))
    if mask is not None:
        scores = scores + mask
    out = torch.matmul(scores.softmax(dim=-1), v)
    return out.transpose(1, 2).reshape(b, lq, c)


class AttentionPool2d(nn.Module):
    """Attention pooling of a [N, C, g, g] map: the map's mean (prepended as a token) is the only
    query; keys and values are all g*g+1 tokens; a learned positional embedding fixes g."""

    def __init__(self, grid: int, channels: int, heads: int, output_dim: int) -> None:
        super().__init__()
        self.grid = grid
        self.heads = heads
        self.positional_embedding = nn.Parameter(torch.randn(grid * grid + 1, channels) / channels ** 0.5)
        self.q_proj = nn.Linear(channels, channels)
        self.k_proj = nn.Linear(channels, channels)
        self.v_proj = nn.Linear(channels, channels)
        self.c_proj = nn.Linear(channels, output_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = x.flatten(2).transpose(1, 2)                          # [N, g*g, C]
        tokens = torch.cat([tokens.mean(dim=1, keepdim=True), tokens], dim=1)
        tokens = tokens + self.positional_embedding
        pooled = attention(self.q_proj(tokens[:, :1]), self.k_proj(tokens), self.v_proj(tokens), self.heads)
        return self.c_proj(pooled[:, 0])


class ModifiedResNet(nn.Module):
    """CLIP's ResNet image tower. ``features`` returns the outputs of layer1..layer4."""

    def __init__(self, layers: Tuple[int, ...], width: int, heads: int, output_dim: int, resolution: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, width // 2, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width // 2)
        self.conv2, self.bn2 = conv_bn(width // 2, width // 2, 3)
        self.conv3, self.bn3 = conv_bn(width // 2, width, 3)
        self.avgpool = nn.AvgPool2d(2)
        in_ch = width
        for i, blocks in enumerate(layers):
            planes = width * 2 ** i
            stage = [Bottleneck(in_ch, planes, 1 if i == 0 else 2)]
            in_ch = planes * Bottleneck.expansion
            stage += [Bottleneck(in_ch, planes) for _ in range(blocks - 1)]
            setattr(self, f"layer{i + 1}", nn.Sequential(*stage))
        self.attnpool = AttentionPool2d(resolution // 32, in_ch, heads, output_dim)

    def stem(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        x = F.relu(self.bn3(self.conv3(x)))
        return self.avgpool(x)

    def features(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        c2 = self.layer1(self.stem(x))
        c3 = self.layer2(c2)
        c4 = self.layer3(c3)
        c5 = self.layer4(c4)
        return c2, c3, c4, c5

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attnpool(self.features(x)[-1])


class QuickGELU(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class SelfAttention(nn.Module):
    """Self-attention with nn.MultiheadAttention's parameter names (packed q/k/v in_proj, out_proj)."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * width, width))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * width))
        self.out_proj = nn.Linear(width, width)
        nn.init.xavier_uniform_(self.in_proj_weight)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        q, k, v = F.linear(x, self.in_proj_weight, self.in_proj_bias).chunk(3, dim=-1)
        return self.out_proj(attention(q, k, v, self.heads, mask))


class ResidualAttentionBlock(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(width)
        self.attn = SelfAttention(width, heads)
        self.ln_2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(OrderedDict([
            ("c_fc", nn.Linear(width, 4 * width)),
            ("gelu", QuickGELU()),
            ("c_proj", nn.Linear(4 * width, width)),
        ]))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), mask)
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    def __init__(self, width: int, layers: int, heads: int) -> None:
        super().__init__()
        self.resblocks = nn.ModuleList([ResidualAttentionBlock(width, heads) for _ in range(layers)])

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        for block in self.resblocks:
            x = block(x, mask)
        return x


class Clip(nn.Module):
    """CLIP with a ResNet image tower. State-dict keys match OpenAI's checkpoints."""

    def __init__(self, config: ClipConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.visual = ModifiedResNet(c.vision_layers, c.vision_width, c.vision_heads, c.embed_dim, c.image_resolution)
        self.transformer = Transformer(c.text_width, c.text_layers, c.text_heads)
        self.token_embedding = nn.Embedding(c.vocab_size, c.text_width)
        self.positional_embedding = nn.Parameter(torch.empty(c.context_length, c.text_width))
        self.ln_final = nn.LayerNorm(c.text_width)
        self.text_projection = nn.Parameter(torch.empty(c.text_width, c.embed_dim))
        self.logit_scale = nn.Parameter(torch.tensor(math.log(100.0)))
        # Position i attends to positions <= i. Not persistent: OpenAI's state dicts have no such key.
        causal = torch.full((c.context_length, c.context_length), float("-inf")).triu(1)
        self.register_buffer("causal_mask", causal, persistent=False)
        nn.init.normal_(self.positional_embedding, std=0.01)
        nn.init.normal_(self.text_projection, std=c.text_width ** -0.5)

    def encode_image(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.visual(pixel_values)

    def encode_text(self, input_ids: torch.Tensor) -> torch.Tensor:
        """[K, L] int64 ids (0-padded) -> [K, embed_dim], pooled at the largest id of each row.

        L is the context length, or less: under the causal mask no position attends to a later one,
        so ids cut after the longest row's end token give the same embeddings for less work (the
        exported graph always takes the full context length)."""
        length = input_ids.shape[1]
        positions, mask = self.positional_embedding, self.causal_mask
        if length != positions.shape[0]:
            positions, mask = positions[:length], mask[:length, :length]
        x = self.token_embedding(input_ids) + positions
        x = self.ln_final(self.transformer(x, mask))
        end = input_ids.argmax(dim=-1)                                  # [K]
        index = end.reshape(-1, 1, 1).expand(-1, 1, x.shape[2])         # [K, 1, W]
        pooled = torch.gather(x, 1, index)[:, 0]
        return pooled @ self.text_projection

    def forward(self, pixel_values: torch.Tensor, input_ids: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Image and text embeddings (not normalised)."""
        return self.encode_image(pixel_values), self.encode_text(input_ids)

    @property
    def logit_temperature(self) -> float:
        """1 / exp(logit_scale), with CLIP's cap of 100 on the scale."""
        return 1.0 / min(math.exp(float(self.logit_scale)), 100.0)


def clean_state_dict(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Drops the non-parameter entries of OpenAI checkpoints and converts to float32 on CPU."""
    return {k: v.detach().to("cpu", torch.float32) if v.is_floating_point() else v.detach().cpu()
            for k, v in state_dict.items() if k not in NON_PARAMETER_KEYS}


def save_weights(model: Clip, path: str) -> None:
    """Saves the float32 state dict with the config (head counts are not in the weights)."""
    torch.save({"config": model.config.to_dict(), "state_dict": model.state_dict()}, path)


def load_checkpoint(path: str) -> Tuple[Dict[str, torch.Tensor], Optional[ClipConfig]]:
    """Reads an OpenAI CLIP checkpoint (TorchScript archive), a plain saved state dict, or a file
    written by ``save_weights``. Returns the float32 state dict and the config when the file has one."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint '{path}' does not exist")
    config = None
    try:
        state_dict = torch.jit.load(path, map_location="cpu").state_dict()
    except RuntimeError:
        try:
            state_dict = torch.load(path, map_location="cpu")
        except Exception as e:  # pickle raises many types on a file that is not a checkpoint
            raise ValueError(f"{path}: neither a TorchScript archive nor a torch.save file ({e})") from e
        if isinstance(state_dict, dict) and "config" in state_dict and "state_dict" in state_dict:
            config = ClipConfig(**state_dict["config"])
            state_dict = state_dict["state_dict"]
        if not isinstance(state_dict, dict) or not all(isinstance(v, torch.Tensor) for v in state_dict.values()):
            raise ValueError(f"{path}: expected a TorchScript CLIP model or a state dict of tensors")
    return clean_state_dict(state_dict), config


def build_from_state_dict(state_dict: Dict[str, torch.Tensor], config: Optional[ClipConfig] = None) -> Clip:
    """Builds a model (config inferred unless given) and loads the weights strictly."""
    state_dict = clean_state_dict(state_dict)
    model = Clip(config or infer_config(state_dict))
    model.load_state_dict(state_dict, strict=True)
    return model.eval()
