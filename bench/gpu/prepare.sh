#!/usr/bin/env bash
# Prepares, on this machine, what the GPU device machine needs, since it reaches no registry:
# the benchmark bundled into one file (deno bundle), a compressed Deno binary and the Vulkan
# loader package. Run in the repo root; then run bench/gpu/run.sh there through the device tool
# with carry [".gpu", ".gl"] (see BENCHMARKS.md, "WebGPU on a real GPU").
set -euo pipefail
mkdir -p .gpu .gl /tmp/amd64/partial
for dir in /.gpu/ /.gl/; do
  grep -qxF "$dir" .git/info/exclude || echo "$dir" >> .git/info/exclude
done
deno bundle --quiet --output .gpu/bench.js bench/gpu/train_step_gpu.ts
xz -T0 -6 -c "$(command -v deno)" > .gpu/deno.xz
o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
# shellcheck disable=SC2086
apt-get $o update -qq
# shellcheck disable=SC2086
(cd .gl && rm -f ./*.deb && apt-get $o download -qq libvulkan1)
du -sh .gpu .gl
