"""Tests of the CLIP definition and export. Run: /usr/bin/python3 -m unittest discover -s eng/clip -p 'test_*.py'"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import unittest

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from clip_init import random_clip  # noqa: E402
from clip_model import PRESETS, Clip, ClipConfig, build_from_state_dict, infer_config, load_checkpoint, save_weights  # noqa: E402

TINY = ClipConfig(vision_layers=(1, 2, 1, 1), vision_width=16, embed_dim=32, image_resolution=64,
                  context_length=12, vocab_size=600, text_width=32, text_heads=4, text_layers=2, vision_heads=4)
SHARED_CLIP = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "clip")


class ModelTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        torch.set_grad_enabled(False)
        cls.model = random_clip(TINY, seed=3)

    def test_rn50_has_openai_parameter_count_and_names(self):
        model = Clip(PRESETS["RN50"])
        # OpenAI's CLIP reports 102,007,137 parameters for RN50.
        self.assertEqual(sum(p.numel() for p in model.parameters()), 102_007_137)
        keys = set(model.state_dict())
        for key in ["visual.conv1.weight", "visual.bn3.running_var", "visual.layer1.0.downsample.0.weight",
                    "visual.layer4.0.downsample.1.bias", "visual.layer2.0.conv3.weight", "visual.layer4.2.bn3.weight",
                    "visual.attnpool.positional_embedding", "visual.attnpool.q_proj.weight", "visual.attnpool.c_proj.bias",
                    "transformer.resblocks.11.attn.in_proj_weight", "transformer.resblocks.0.attn.out_proj.bias",
                    "transformer.resblocks.0.mlp.c_fc.weight", "transformer.resblocks.0.ln_2.bias",
                    "token_embedding.weight", "positional_embedding", "ln_final.weight", "text_projection", "logit_scale"]:
            self.assertIn(key, keys)
        self.assertNotIn("visual.layer1.1.downsample.0.weight", keys)   # only the first block of a stage
        self.assertEqual(tuple(model.state_dict()["visual.attnpool.positional_embedding"].shape), (50, 2048))
        # Published for RN50x4; larger presets are left out to keep the tests quick.
        self.assertEqual(sum(p.numel() for p in Clip(PRESETS["RN50x4"]).parameters()), 178_300_601)

    def test_infer_config_reads_every_preset_shape(self):
        self.assertEqual(infer_config(Clip(PRESETS["RN50"]).state_dict()), PRESETS["RN50"])
        # Head counts are not in the weights: CLIP's width / 64 rule gives 0 -> 1 here, so pass them.
        self.assertEqual(infer_config(self.model.state_dict(), text_heads=4, vision_heads=4), TINY)

    def test_features_have_contract_strides_and_channels(self):
        c2, c3, c4, c5 = self.model.visual.features(torch.randn(2, 3, 64, 96))
        self.assertEqual([tuple(t.shape) for t in (c2, c3, c4, c5)],
                         [(2, 64, 16, 24), (2, 128, 8, 12), (2, 256, 4, 6), (2, 512, 2, 3)])

    def test_attention_pool_equals_torch_multi_head_attention(self):
        pool = self.model.visual.attnpool
        x = torch.randn(3, 512, 2, 2)
        tokens = x.flatten(2).permute(2, 0, 1)                        # [HW, N, C]
        tokens = torch.cat([tokens.mean(0, keepdim=True), tokens]) + pool.positional_embedding[:, None]
        expected, _ = F.multi_head_attention_forward(
            tokens[:1], tokens, tokens, 512, 4, None, torch.cat([pool.q_proj.bias, pool.k_proj.bias, pool.v_proj.bias]),
            None, None, False, 0.0, pool.c_proj.weight, pool.c_proj.bias, training=False, need_weights=False,
            use_separate_proj_weight=True, q_proj_weight=pool.q_proj.weight, k_proj_weight=pool.k_proj.weight,
            v_proj_weight=pool.v_proj.weight)
        torch.testing.assert_close(pool(x), expected[0], rtol=1e-5, atol=1e-5)

    def test_text_block_equals_torch_multi_head_attention_with_causal_mask(self):
        block = self.model.transformer.resblocks[0]
        reference = nn.MultiheadAttention(32, 4)
        reference.load_state_dict(block.attn.state_dict())
        x = torch.randn(2, 12, 32)
        mask = self.model.causal_mask
        expected = reference(x.transpose(0, 1), x.transpose(0, 1), x.transpose(0, 1), attn_mask=mask, need_weights=False)[0]
        torch.testing.assert_close(block.attn(x, mask), expected.transpose(0, 1), rtol=1e-5, atol=1e-5)

    def test_text_pools_at_largest_id_and_ignores_later_positions(self):
        ids = torch.tensor([[598, 5, 7, 599, 0, 0, 0, 0, 0, 0, 0, 0],
                            [598, 5, 7, 599, 9, 9, 9, 9, 9, 9, 9, 9]])
        out = self.model.encode_text(ids)
        torch.testing.assert_close(out[0], out[1])        # causal: positions after the end token don't matter
        x = self.model.token_embedding(ids[:1]) + self.model.positional_embedding
        x = self.model.ln_final(self.model.transformer(x, self.model.causal_mask))
        torch.testing.assert_close(out[0], x[0, 3] @ self.model.text_projection)

    def test_random_weights_are_well_scaled(self):
        c5 = self.model.visual.features(torch.randn(2, 3, 64, 64))[-1]
        self.assertTrue(0.3 < c5.std().item() < 5.0, c5.std().item())
        emb = self.model.encode_text(torch.tensor([[598, 5, 599] + [0] * 9]))
        self.assertTrue(0.3 < emb.std().item() < 5.0, emb.std().item())

    def test_save_weights_round_trips_config_and_values(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "w.pt")
            save_weights(self.model, path)
            state_dict, config = load_checkpoint(path)
        self.assertEqual(config, TINY)
        torch.testing.assert_close(state_dict["visual.bn1.running_mean"], self.model.visual.bn1.running_mean)

    def test_loads_a_torchscript_fp16_checkpoint_like_openai_ships(self):
        source = random_clip(TINY, seed=4)
        for key, value in (("input_resolution", 64), ("context_length", 12), ("vocab_size", 600)):
            source.register_buffer(key, torch.tensor(value))
        ids = torch.tensor([[598, 5, 599] + [0] * 9])
        traced = torch.jit.trace(source, (torch.randn(1, 3, 64, 64), ids), check_trace=False).half()
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "tiny.pt")
            traced.save(path)
            state_dict, config = load_checkpoint(path)
        self.assertIsNone(config)
        self.assertNotIn("vocab_size", state_dict)
        model = build_from_state_dict(state_dict, infer_config(state_dict, text_heads=4, vision_heads=4))
        self.assertEqual(model.visual.conv1.weight.dtype, torch.float32)
        torch.testing.assert_close(model.visual.conv1.weight, source.visual.conv1.weight.half().float())


@unittest.skipUnless(os.path.isdir(SHARED_CLIP), "needs ../shared/clip")
class ExportTests(unittest.TestCase):
    def test_export_and_reference_of_a_tiny_model(self):
        import export_clip
        import make_parity_reference
        merges = os.path.join(SHARED_CLIP, "bpe_simple_vocab_16e6.txt.gz")
        with tempfile.TemporaryDirectory() as tmp:
            config_path = os.path.join(tmp, "config.json")
            with open(config_path, "w") as f:
                json.dump(TINY.to_dict(), f)
            vlm, ref = os.path.join(tmp, "vlm"), os.path.join(tmp, "ref")
            export_clip.main(["--config", config_path, "--random-seed", "3", "--merges", merges, "--out", vlm])
            make_parity_reference.main(["--vlm", vlm, "--out", ref, "--clip-data", SHARED_CLIP])
            with open(os.path.join(vlm, "manifest.json")) as f:
                manifest = json.load(f)
            self.assertEqual(manifest["tokenizer"], {"kind": "clip-bpe", "merges_file": "bpe_simple_vocab_16e6.txt.gz",
                                                     "merge_count": 86, "start_id": 598, "end_id": 599})
            self.assertEqual([lv["channels"] for lv in manifest["image_encoder"]["feature_levels"]], [64, 128, 256, 512])
            self.assertEqual(manifest["region_pooler"]["roi_output_size"], 2)
            self.assertEqual(manifest["logit_temperature"], 0.01)
            graph = onnx.load(os.path.join(vlm, "text_encoder.onnx"))
            self.assertEqual([i.name for i in graph.graph.input], ["input_ids"])
            with open(os.path.join(ref, "cases.json")) as f:
                cases = {c["name"]: c for c in json.load(f)["cases"]}
            ids = np.load(os.path.join(ref, cases["text_truncated"]["inputs"]["input_ids"]["file"]))
            self.assertEqual(ids.shape, (1, 12))
            self.assertEqual(ids[0, -1], 599)
            self.assertEqual(ids[0, 0], 598)
            self.assertTrue(cases["text"]["ids_remapped"])
            import check_parity
            self.assertEqual(check_parity.main(["--vlm", vlm, "--ref", ref]), 0)   # graphs run at other N, H, W


if __name__ == "__main__":
    unittest.main()
