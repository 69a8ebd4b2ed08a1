#!/usr/bin/env python3
"""PyTorch's side of bench/conv_ceiling.ts: GFLOP/s of one 3x3 64->64 convolution on 8x56x56.
Run: /usr/bin/python3 bench/torch_conv_ceiling.py [--threads 2] [--repeat 10]"""
import argparse, json, time
import torch

p = argparse.ArgumentParser()
p.add_argument("--threads", type=int, default=2)
p.add_argument("--repeat", type=int, default=10)
a = p.parse_args()
torch.set_num_threads(a.threads)
n, h, w, c, k = 8, 56, 56, 64, 64
x = torch.randn(n, c, h, w)
conv = torch.nn.Conv2d(c, k, 3, padding=1, bias=False)
with torch.no_grad():
    for _ in range(3):
        conv(x)
    start = time.perf_counter()
    for _ in range(a.repeat):
        conv(x)
    ms = (time.perf_counter() - start) / a.repeat * 1000
flops = 2 * n * h * w * k * 9 * c
print(json.dumps({"framework": "pytorch " + torch.__version__, "op": "conv2d 3x3 64->64, 8x56x56",
                  "threads": a.threads, "ms": round(ms, 1), "gflops": round(flops / ms / 1e6, 1)}))
