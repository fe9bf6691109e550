#!/usr/bin/env bash
# Trains the shipped Shapes detector with the default configuration and evaluates it
# (docs/shapes-detector.md). Seeded; 22 minutes of training on session 9's machine (session 8's took 28
# without the mask head's pixel branch) and 14 to 19 of evaluation, on 2 cores.
#   WORK=...   work folder (default artifacts/shapes-detector): the rendered splits, train.log, eval.json
#   SKIP_EVAL=1  stop after training
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
work="${WORK:-$root/artifacts/shapes-detector}"
model="$root/src/Microsoft.ML.FVlm.Shapes/Detector/shapes-detector.zip"
mkdir -p "$work" "$(dirname "$model")"

dotnet build "$root/src/Microsoft.ML.FVlm.Cli" -c Release --nologo -v quiet
fvlm() { dotnet "$root/src/Microsoft.ML.FVlm.Cli/bin/Release/net10.0/fvlm.dll" "$@"; }

fvlm shapes --split train-base --images 10000 --seed 0 --size 320 --out "$work/data"
start=$(date +%s)
# The Shapes VLM names boxes best near 64 px (docs/shapes-vlm.md): its region scores are read at three
# canvas scales. Training does not use them; they are saved with the model for inference.
fvlm train --vlm "$root/src/Microsoft.ML.FVlm.Shapes/Vlm" --data "$work/data" --out "$model" --region-scales 0.5,1,2 | tee "$work/train.log"
echo "training time: $(( ($(date +%s) - start) / 60 )) min $(( ($(date +%s) - start) % 60 )) s"

if [[ "${SKIP_EVAL:-0}" != "1" ]]; then
  fvlm shapes --split val --images 1000 --seed 0 --size 320 --out "$work/data"
  fvlm evaluate-model --model "$model" --data "$work/data" --json "$work/eval.json"
fi
