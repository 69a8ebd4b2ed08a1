"""torchvision's side of bench/transforms_bench.ts: the same transforms on the same 341×256 RGB
image (pixel i = (i · 7919) mod 256), on PIL, one thread. Mean ms per call over 300 calls after 20
warm-ups. Prints one JSON line. Run: /usr/bin/python3 bench/torch_transforms.py
"""
import json
import time

import numpy as np
import torch
from PIL import Image
from torchvision import transforms as T

torch.set_num_threads(1)
torch.manual_seed(0)
pixels = (np.arange(341 * 256 * 3, dtype=np.int64) * 7919 % 256).astype(np.uint8)
image = Image.fromarray(pixels.reshape(256, 341, 3), "RGB")

cases = {
    "randomResizedCrop(224)": T.RandomResizedCrop(224),
    "resize(256) + centerCrop(224)": T.Compose([T.Resize(256), T.CenterCrop(224)]),
    "randomHorizontalFlip(p=1)": T.RandomHorizontalFlip(1.0),
    "colorJitter(0.4, 0.4, 0.4, 0.1)": T.ColorJitter(0.4, 0.4, 0.4, 0.1),
}
result = {}
for name, transform in cases.items():
    for _ in range(20):
        transform(image)
    start = time.perf_counter()
    for _ in range(300):
        transform(image)
    result[name] = round((time.perf_counter() - start) / 300 * 1000, 3)
print(json.dumps({"framework": "torchvision (PIL)", "ms_per_call": result}))
