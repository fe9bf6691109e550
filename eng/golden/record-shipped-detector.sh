#!/usr/bin/env bash
# Records what the shipped Shapes detector (src/Microsoft.ML.FVlm.Shapes/Detector/shapes-detector.zip) detects
# on the first 100 Shapes `val` scenes (seed 0, 320 px): per image, the labels, fused scores, boxes (x0 y0 x1 y1,
# image pixels) and masks (COCO compressed RLE) of the transformer's output columns, as the model-load probe
# prints them (test/Microsoft.ML.FVlm.ModelLoadProbe, `detect`), gzipped into
# test/Microsoft.ML.FVlm.Tests/Assets/shipped-detector-val100.json.gz.
#
# ShippedDetectorGoldenTests compares the library's detections with this record, so that a change of the inference
# path (or of the shipped zip) that changes what users get fails a test. Rerun it only when such a change is meant,
# and say why in the commit. About 3 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/../.."

out=test/Microsoft.ML.FVlm.Tests/Assets/shipped-detector-val100.json.gz
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

dotnet build test/Microsoft.ML.FVlm.ModelLoadProbe -c Debug -v q -nologo
dotnet build src/Microsoft.ML.FVlm.Cli -c Debug -v q -nologo
dotnet src/Microsoft.ML.FVlm.Cli/bin/Debug/net10.0/fvlm.dll shapes --split val --images 100 --seed 0 --size 320 --out "$work/scenes"
dotnet test/Microsoft.ML.FVlm.ModelLoadProbe/bin/Debug/net10.0/Microsoft.ML.FVlm.ModelLoadProbe.dll detect \
  src/Microsoft.ML.FVlm.Shapes/Detector/shapes-detector.zip "$work"/scenes/val/*.png > "$work/detections.json"
gzip -9 -n -c "$work/detections.json" > "$out"
echo "wrote $out ($(wc -c < "$out") bytes)"
