#!/usr/bin/env bash
# Regenerates the tiny random-weight VLM the C# tests use for the contract's error cases
# (test/Microsoft.ML.FVlm.Tests/Assets/tiny-vlm, about 1.4 MB, committed so that `dotnet test`
# needs no Python): a CLIP ResNet of width 8 with one block per stage, a one-layer text tower and a
# ten-merge vocabulary (eng/clip/tiny/). Seeded: the same torch version gives the same graphs.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$root/test/Microsoft.ML.FVlm.Tests/Assets/tiny-vlm"
rm -rf "$out"
/usr/bin/python3 "$root/eng/clip/export_clip.py" --config "$root/eng/clip/tiny/config.json" --random-seed 1 \
  --merges "$root/eng/clip/tiny/merges.txt" --templates "$root/eng/clip/tiny/templates.txt" \
  --out "$out" --name tiny-test --no-save-weights
rm -f "$out/export.json"
