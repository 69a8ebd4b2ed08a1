"""PyTorch's side of `deno task bench infer`: MobileNetV2 (torchvision, 1000 classes, random init,
eval mode) on the same photo. Latency of one image end to end (PIL open + decode, Resize 256,
CenterCrop 224, ToTensor, Normalize, forward, argmax) as p50/p99 over 50 runs after 3 warm-ups,
then batched throughput on a random batch of 32 (5 rounds after one warm-up). 2 threads, like the
other references here. Prints one JSON line.

Run: /usr/bin/python3 bench/torch_infer.py [--image FILE] [--repeats 50] [--batch-size 32]
     [--malloc reuse|glibc]  (reuse, the default: PyTorch at its best; see _torch_malloc.py)
"""
import argparse
import json
import resource
import time

from _torch_malloc import CHOICES, HELP, set_malloc

parser = argparse.ArgumentParser()
parser.add_argument("--image", default="../shared/datasets/hymenoptera/val/bees/1032546534_06907fe3b3.jpg")
parser.add_argument("--repeats", type=int, default=50)
parser.add_argument("--batch-size", type=int, default=32)
parser.add_argument("--malloc", choices=CHOICES, default="reuse", help=HELP)
args = parser.parse_args()
set_malloc(args.malloc)

import torch
import torchvision
from PIL import Image
from torchvision import transforms

torch.set_num_threads(2)
torch.manual_seed(0)
model = torchvision.models.mobilenet_v2(num_classes=1000).eval()
preprocess = transforms.Compose([
    transforms.Resize(256),
    transforms.CenterCrop(224),
    transforms.ToTensor(),
    transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
])


def predict(path):
    with torch.no_grad():
        x = preprocess(Image.open(path).convert("RGB")).unsqueeze(0)
        return model(x).softmax(1).argmax(1).item()


for _ in range(3):
    predict(args.image)
latencies = []
for _ in range(args.repeats):
    start = time.perf_counter()
    predict(args.image)
    latencies.append((time.perf_counter() - start) * 1000)
latencies.sort()
pct = lambda p: latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))]

x = torch.randn(args.batch_size, 3, 224, 224)
with torch.no_grad():
    model(x)
    rounds = 5
    start = time.perf_counter()
    for _ in range(rounds):
        model(x)
    seconds = time.perf_counter() - start
print(json.dumps({
    "framework": f"torch {torch.__version__}",
    "model": "mobilenet_v2",
    "latency_ms_p50": round(pct(50), 1),
    "latency_ms_p99": round(pct(99), 1),
    "batch_size": args.batch_size,
    "batched_images_per_s": round(args.batch_size * rounds / seconds, 1),
    "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
}))
