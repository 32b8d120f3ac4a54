#!/usr/bin/env bash
# The GPU check: Qwen2-VL-2B's shape (random weights, its 151,936-row vocabulary) in bfloat16 with SDPA on one CUDA
# GPU. One run of encode_modes.py: the three reasoning modes at batch 1 and 16 on 16 images at 448 px (explicit
# rationales forced to exactly 403 tokens, every backbone pass counted), then the training step batched against a
# per-sample loop with the peak GPU memory of each. About 4 minutes on one H100 / H200 (the 2B build included);
# stopped after 8.
#
#   bash benchmarks/gpu_check.sh [OUT_DIR]        # default: $OUT if set, else benchmarks/results
#
# Needs the project installed (pip install -e .) and a CUDA build of torch. Writes OUT_DIR/gpu_2b.json (regenerate
# the README's 2b-cuda block from it with: python benchmarks/speed_report.py OUT_DIR/gpu_2b.json --readme README.md),
# OUT_DIR/gpu_2b.md (the printed tables) and OUT_DIR/gpu.txt (nvidia-smi's view of the GPU).
set -euo pipefail
cd "$(dirname "$0")/.."
out_dir="${1:-${OUT:-benchmarks/results}}"
mkdir -p "$out_dir"
python -c "import torch; assert torch.cuda.is_available(), 'gpu_check.sh needs a CUDA GPU'"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out_dir/gpu.txt"
timeout 480 python benchmarks/encode_modes.py \
    --size 2b --dtype bfloat16 --device cuda --attn sdpa --threads 0 \
    --images 16 --batch-size 16 --image-size 448 \
    --latent-steps 8 --explicit-tokens 403 --explicit-items 2 --repeats 2 \
    --train-batch-size 16 --train-steps 2 \
    --out "$out_dir/gpu_2b.json" | tee "$out_dir/gpu_2b.md"
