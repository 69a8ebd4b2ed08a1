#!/usr/bin/env bash
# Runs on the device machine (carry [".gpu", ".gl"]): installs the Vulkan loader, unpacks Deno,
# prints the adapter Deno's WebGPU gets, then times our training steps on it and PyTorch's eager
# fp32 steps on the same GPU. Results land in $OUT. Arguments go to the Deno benchmark.
set -uo pipefail
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f "$icd" ] && export VK_DRIVER_FILES=$icd
export XDG_RUNTIME_DIR=/tmp
xz -dc .gpu/deno.xz > /tmp/deno && chmod +x /tmp/deno
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
/tmp/deno run --allow-read --allow-env .gpu/bench.js "$@" 2>&1 | tee "$OUT/deno.log"
for spec in resnet18:128 compact-cnn:256 lenet:256; do
  python3 bench/torch_train_step.py --device cuda --model "${spec%%:*}" \
    --batch-size "${spec##*:}" --steps 20 2>&1 | tee -a "$OUT/torch.jsonl"
done
