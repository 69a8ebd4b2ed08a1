#!/usr/bin/env python3
"""PyTorch side of `deno task bench train`: one training step (forward, cross-entropy, backward,
Adam update) per model on random images, timed after warm-up. Same models and sizes as ours:
lenet 28x28x1, compact-cnn 32x32x3, resnet18 with the CIFAR stem at 32x32 (3x3 conv, no max-pool),
mobilenetv2 at 224. Prints one JSON line. A reference for BENCHMARKS.md, never a dependency.
Run: python3 bench/torch_train_step.py --model resnet18 [--batch-size 64] [--steps 20] [--threads 2]
     [--img-size N] [--warmup 3] [--malloc reuse|glibc]

--malloc reuse (the default, for timings) keeps freed memory in the heap, so that PyTorch reuses
its activations' pages from step to step; --malloc glibc keeps glibc's defaults (the peak-RSS
comparisons): see _torch_malloc.py.
"""
import argparse, json, resource, time
from _torch_malloc import CHOICES, HELP, set_malloc

p = argparse.ArgumentParser()
p.add_argument("--model", default="lenet")
p.add_argument("--batch-size", type=int, default=64)
p.add_argument("--img-size", type=int, help="input side; resnet18 above 64 px gets the ImageNet stem")
p.add_argument("--freeze", action="store_true", help="train the last Linear only (frozen backbone)")
p.add_argument("--steps", type=int, default=20)
p.add_argument("--warmup", type=int, default=3, help="untimed steps first")
p.add_argument("--threads", type=int, default=2)
p.add_argument("--device", default="cpu")
p.add_argument("--malloc", choices=CHOICES, default="reuse", help=HELP)
a = p.parse_args()
set_malloc(a.malloc)

import torch, torch.nn as nn, torch.nn.functional as F
import torchvision
torch.set_num_threads(a.threads)
torch.manual_seed(0)

class LeNet(nn.Module):
    def __init__(s):
        super().__init__()
        s.c1, s.c2 = nn.Conv2d(1, 10, 5), nn.Conv2d(10, 20, 5)
        s.f1, s.f2 = nn.Linear(320, 50), nn.Linear(50, 10)
    def forward(s, x):
        x = F.max_pool2d(F.relu(s.c1(x)), 2)
        x = F.max_pool2d(F.relu(s.c2(x)), 2)
        return s.f2(F.relu(s.f1(x.flatten(1))))

def compact():
    layers, c = [], 3
    for f in (16, 32, 64):
        layers += [nn.Conv2d(c, f, 3, padding=1, bias=False), nn.BatchNorm2d(f), nn.ReLU(), nn.MaxPool2d(2)]
        c = f
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))

if a.model == "lenet":
    model, shape = LeNet(), (1, 28, 28)
elif a.model == "compact-cnn":
    model, shape = compact(), (3, 32, 32)
elif a.model == "resnet18":
    side = a.img_size or 32
    model = torchvision.models.resnet18(num_classes=10)
    if side <= 64:  # the CIFAR stem, as our resnet18 builds for small inputs
        model.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        model.maxpool = nn.Identity()
    shape = (3, side, side)
elif a.model == "mobilenetv2":
    side = a.img_size or 224
    model, shape = torchvision.models.mobilenet_v2(num_classes=10), (3, side, side)
else:
    raise SystemExit(f"unknown model {a.model}")
model = model.to(a.device).train()
if a.freeze:  # the tutorial's fixed feature extractor: no gradients for all but the classifier
    last = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    for param in model.parameters():
        param.requires_grad = False
    for param in last.parameters():
        param.requires_grad = True
opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
x = torch.randn(a.batch_size, *shape, device=a.device)
y = torch.arange(a.batch_size, device=a.device) % 10

def step():
    opt.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    return loss.item()

for _ in range(a.warmup):
    step()
t = time.perf_counter()
for _ in range(a.steps):
    step()
seconds = time.perf_counter() - t
print(json.dumps({
    "framework": "pytorch " + torch.__version__, "model": a.model, "device": a.device,
    "threads": a.threads, "input": list(shape), "batch_size": a.batch_size, "frozen": a.freeze,
    "malloc": a.malloc, "ms_per_step": round(seconds / a.steps * 1000, 1),
    "images_per_s": round(a.batch_size * a.steps / seconds),
    "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
}))
