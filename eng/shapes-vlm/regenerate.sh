#!/usr/bin/env bash
# Regenerates the Shapes VLM shipped in src/Microsoft.ML.FVlm.Shapes/Vlm/ (docs/shapes-vlm.md).
#
#   eng/shapes-vlm/regenerate.sh
#
# 1. renders the pretraining captions split (seed 1000) and a held-out one (seed 2000),
# 2. learns the BPE merges from the pretraining captions and the prompt templates,
# 3. pretrains with a fixed seed and prints the pretraining time,
# 4. exports the three ONNX graphs, manifest, merges and templates into the model folder,
# 5. evaluates crop / region top-1 (all and novel) on the held-out split and prints them as JSON.
#
# Needs the .NET SDK and Debian's python3-torch, python3-torchvision, python3-onnx, python3-pil,
# with libopenblas0-pthread installed (Debian's torch otherwise runs on the reference BLAS, ~3x slower).
# Work files go to $WORK (default artifacts/shapes-vlm). Environment overrides: STEPS, MAX_MINUTES, WORKERS, THREADS, PYTHON.
# Pretraining runs WORKERS data-parallel processes of one thread each (default 2, one per core: 1.36x faster
# than one process of two threads, docs/shapes-vlm.md); WORKERS=1 runs one process of THREADS threads.
# Pretraining ends at STEPS steps (default 9000, about 80 minutes on 2 cores) or after MAX_MINUTES (default 0: no
# time limit), whichever comes first (the learning-rate schedule follows the larger of the two fractions); a run
# ended by the step budget, as the default, is bit-reproducible for its seed on one machine and worker count.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/eng/shapes-vlm
PY=${PYTHON:-/usr/bin/python3}
WORK=${WORK:-$ROOT/artifacts/shapes-vlm}
MODEL=$ROOT/src/Microsoft.ML.FVlm.Shapes/Vlm
TEMPLATES=$MODEL/templates.txt
TRAIN_SEED=1000 TRAIN_IMAGES=48000
EVAL_SEED=2000 EVAL_IMAGES=2000
STEPS=${STEPS:-9000}
MAX_MINUTES=${MAX_MINUTES:-0}
THREADS=${THREADS:-2}
WORKERS=${WORKERS:-2}

mkdir -p "$WORK"
cd "$ROOT"
dotnet build src/Microsoft.ML.FVlm.Cli -c Release -v q -nologo | tail -1
fvlm() { dotnet run --no-build --project src/Microsoft.ML.FVlm.Cli -c Release -- "$@"; }

if [ ! -f "$WORK/train-$TRAIN_SEED/captions.json" ]; then
    fvlm shapes --split captions --seed $TRAIN_SEED --images $TRAIN_IMAGES --out "$WORK/train-$TRAIN_SEED" | tail -1
fi
if [ ! -f "$WORK/eval-$EVAL_SEED/captions.json" ]; then
    fvlm shapes --split captions --seed $EVAL_SEED --images $EVAL_IMAGES --out "$WORK/eval-$EVAL_SEED" | tail -1
fi

"$PY" "$HERE/learn_bpe.py" --captions "$WORK/train-$TRAIN_SEED/captions.json" --templates "$TEMPLATES" \
    --out "$WORK/bpe_shapes_vocab.txt"

"$PY" "$HERE/pretrain.py" --data "$WORK/train-$TRAIN_SEED" --merges "$WORK/bpe_shapes_vocab.txt" \
    --templates "$TEMPLATES" --out "$WORK/weights.pt" --steps "$STEPS" --max-minutes "$MAX_MINUTES" --seed 0 --threads "$THREADS" --workers "$WORKERS" \
    --checkpoint-every 500 \
    | tee "$WORK/pretrain.log"

"$PY" "$HERE/export.py" --weights "$WORK/weights.pt" --merges "$WORK/bpe_shapes_vocab.txt" \
    --templates "$TEMPLATES" --out "$MODEL" 2> >(grep -v -i warning >&2)

"$PY" "$HERE/evaluate.py" --vlm "$MODEL" --weights "$WORK/weights.pt" --data "$WORK/eval-$EVAL_SEED" \
    --threads "$THREADS" | tee "$WORK/eval.json"
