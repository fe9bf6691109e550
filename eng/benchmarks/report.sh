#!/usr/bin/env bash
# Writes the benchmark report, docs/benchmarks/README.md and latency.png, with `fvlm bench`.
#
#   eng/benchmarks/report.sh            (QUICK=1 for a short check of the whole chain; its figures are not the report's)
#
# What it needs and makes, in artifacts/ (kept between runs; delete a file to redo its step):
#   clip-rn50-random/           CLIP RN50's architecture with random weights (eng/clip/make_parity_fixture.sh)
#   shapes-detector/data/       Shapes val, 1,000 images, seed 0 (as eng/shapes-detector/regenerate.sh renders it)
#   benchmarks/train-all/       Shapes train-all, 10,000 images, seed 0: the shipped detector's images, novel annotated
#   benchmarks/oracle.zip       the oracle head: the shipped detector's training command on train-all (about 25 min)
#   benchmarks/*-eval.json      'fvlm evaluate-model --json' of the shipped detector and of the oracle on val (about 15 min each)
# then runs every other benchmark in `fvlm bench` (about 5 minutes) and writes the report.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# Relative to the repository root (the report prints the command line).
work="artifacts/benchmarks"
data="artifacts/shapes-detector/data"
shipped="src/Microsoft.ML.FVlm.Shapes/Detector/shapes-detector.zip"
cd "$root"
mkdir -p "$work" "$data"

dotnet build src/Microsoft.ML.FVlm.Cli -c Release --nologo -v quiet
fvlm() { dotnet "$root/src/Microsoft.ML.FVlm.Cli/bin/Release/net10.0/fvlm.dll" "$@"; }

if [ "${QUICK:-0}" = "1" ]; then
  fvlm bench --quick --out "$work/quick"
  exit 0
fi

[ -f artifacts/clip-rn50-random/manifest.json ] || bash eng/clip/make_parity_fixture.sh artifacts
[ -f "$data/val.json" ] || fvlm shapes --split val --images 1000 --seed 0 --size 320 --out "$data"
if [ ! -f "$work/oracle.zip" ]; then
  [ -f "$work/train-all/train-all.json" ] || fvlm shapes --split train-all --images 10000 --seed 0 --size 320 --out "$work/train-all"
  fvlm train --vlm src/Microsoft.ML.FVlm.Shapes/Vlm --data "$work/train-all/train-all.json" --out "$work/oracle.zip" | tee "$work/oracle-train.log"
fi
[ -f "$work/shipped-eval.json" ] || fvlm evaluate-model --model "$shipped" --data "$data" --json "$work/shipped-eval.json"
[ -f "$work/oracle-eval.json" ] || fvlm evaluate-model --model "$work/oracle.zip" --data "$data" --json "$work/oracle-eval.json"

fvlm bench --out docs/benchmarks --oracle "$work/oracle.zip" \
  --model-eval "$work/shipped-eval.json" --oracle-eval "$work/oracle-eval.json"
