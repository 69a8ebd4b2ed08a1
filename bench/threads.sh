#!/usr/bin/env bash
# Thread scaling of CPU training, ours (wasm backend, XNNPACK pool) beside PyTorch with the same
# thread counts: one training step of lenet, compact-cnn and resnet18 (CIFAR stem, 32 px), and the
# MNIST protocol (seeds 0-2 for ours; the reference script fixes its seed, so three runs). One JSON line per measurement. Run on a quiet machine:
#   bash bench/threads.sh [THREADS...]        (default: 1 2 and every core when more)
# Needs Debian's python3-torch for the PyTorch side (skipped without it).
set -uo pipefail
cd "$(dirname "$0")/.."
cores=$(nproc)
threads=("$@")
if [ ${#threads[@]} -eq 0 ]; then
  threads=(1 2)
  [ "$cores" -gt 2 ] && threads+=("$((cores < 8 ? cores : 8))")
fi
torch=/usr/bin/python3
have_torch=false
$torch -c "import torch" >/dev/null 2>&1 && have_torch=true
steps() { # model batch steps
  for t in "${threads[@]}"; do
    deno task --quiet bench train --model "$1" --batch-size "$2" --steps "$3" --backend wasm \
      --threads "$t" --json 2>/dev/null | tail -n 1
    if $have_torch; then
      $torch bench/torch_train_step.py --model "$1" --batch-size "$2" --steps "$3" --threads "$t"
    fi
  done
}
steps lenet 64 200
steps compact-cnn 64 40
steps resnet18 32 5
for t in "${threads[@]}"; do
  for seed in 0 1 2; do
    deno run --allow-read=.,../shared bench/mnist_protocol.ts --threads "$t" --seed "$seed" \
      2>/dev/null | tail -n 1
    if $have_torch; then
      $torch ../shared/reference/torch_lenet_mnist.py --threads "$t" 2>/dev/null |
        tail -n 1
    fi
  done
done
