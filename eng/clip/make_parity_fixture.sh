#!/usr/bin/env bash
# Random-weight RN50 parity fixture for the C# VLM runtime tests:
#   <out>/clip-rn50-random         a VLM folder (docs/vlm-contract.md), seed 0
#   <out>/clip-rn50-random-parity  PyTorch float64 reference cases (cases.json + .npy)
# then runs the graphs on the cases (eng/clip/check_parity.py) and drops weights.pt (390 MiB).
# Usage: eng/clip/make_parity_fixture.sh [out-dir (default artifacts)] [arch (default RN50)]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:-$root/artifacts}"
arch="${2:-RN50}"
name="clip-$(echo "$arch" | tr '[:upper:]' '[:lower:]')-random"
py=/usr/bin/python3
clip_data="$root/../shared/clip"

"$py" "$root/eng/clip/export_clip.py" --arch "$arch" --random-seed 0 \
  --merges "$clip_data/bpe_simple_vocab_16e6.txt.gz" --out "$out/$name"
"$py" "$root/eng/clip/make_parity_reference.py" --vlm "$out/$name" --out "$out/$name-parity" --clip-data "$clip_data"
"$py" "$root/eng/clip/check_parity.py" --vlm "$out/$name" --ref "$out/$name-parity"
rm -f "$out/$name/weights.pt"
du -sh "$out/$name" "$out/$name-parity"
