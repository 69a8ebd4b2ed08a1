#!/usr/bin/env python3
"""PIL (libjpeg-turbo) decode throughput on the same 24 JPEGs as bench/decode_bench.ts, one core.
Run: /usr/bin/python3 bench/pil_decode.py   (needs Debian's python3-pil; a reference, not a dependency)
"""
import io, os, time
from PIL import Image

root = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "datasets", "hymenoptera", "train", "bees")
blobs = [open(os.path.join(root, n), "rb").read() for n in sorted(os.listdir(root))[:24]]
pixels = sum(Image.open(io.BytesIO(b)).size[0] * Image.open(io.BytesIO(b)).size[1] for b in blobs)
best = float("inf")
for _ in range(10):
    t = time.perf_counter()
    for b in blobs:
        Image.open(io.BytesIO(b)).convert("RGB").load()
    best = min(best, time.perf_counter() - t)
print(f"PIL {Image.__version__}: {pixels / 1e6:.2f} MP in {best * 1000:.1f} ms = {pixels / 1e6 / best:.1f} MP/s")
