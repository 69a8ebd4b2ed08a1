#!/usr/bin/env python3
"""PyTorch side of the fine-tuning speed figure: the transfer-learning tutorial's "ConvNet as fixed
feature extractor" on an ImageFolder (hymenoptera): torchvision's resnet18 with every parameter
frozen and a new fc for the classes, RandomResizedCrop(224) + flip + ImageNet normalisation,
batch 32, SGD(lr 0.001, momentum 0.9) on the head, eval on val/ with Resize(256) + CenterCrop(224).
The backbone's weights are --weights (a state dict file) or random: speed does not depend on them.
Prints one JSON line: train images/s (epochs after the first), val accuracy, threads.
Run: /usr/bin/python3 bench/torch_finetune.py [--root DIR] [--weights resnet18.pth] [--epochs 3]
     [--malloc reuse|glibc]  (reuse, the default: PyTorch at its best; see _torch_malloc.py)
"""
import argparse, json, os, time
from _torch_malloc import CHOICES, HELP, set_malloc

here = os.path.dirname(os.path.abspath(__file__))
p = argparse.ArgumentParser()
p.add_argument("--root", default=os.path.join(here, "..", "..", "shared", "datasets", "hymenoptera"))
p.add_argument("--weights")
p.add_argument("--epochs", type=int, default=3)
p.add_argument("--batch-size", type=int, default=32)
p.add_argument("--workers", type=int, default=2)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--malloc", choices=CHOICES, default="reuse", help=HELP)
a = p.parse_args()
set_malloc(a.malloc)  # before torch loads

import torch, torchvision
from torchvision import transforms as T
torch.set_num_threads(a.threads)
torch.manual_seed(0)
norm = T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
train_tf = T.Compose([T.RandomResizedCrop(224), T.RandomHorizontalFlip(), T.ToTensor(), norm])
val_tf = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(), norm])
train = torchvision.datasets.ImageFolder(os.path.join(a.root, "train"), train_tf)
val = torchvision.datasets.ImageFolder(os.path.join(a.root, "val"), val_tf)
loader = lambda ds, shuffle: torch.utils.data.DataLoader(
    ds, batch_size=a.batch_size, shuffle=shuffle, num_workers=a.workers)
model = torchvision.models.resnet18()
if a.weights:
    model.load_state_dict(torch.load(a.weights))
for param in model.parameters():
    param.requires_grad = False
model.fc = torch.nn.Linear(model.fc.in_features, len(train.classes))
opt = torch.optim.SGD(model.fc.parameters(), lr=0.001, momentum=0.9)
rates = []
for epoch in range(a.epochs):
    model.train()
    start, seen = time.perf_counter(), 0
    for x, y in loader(train, True):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        seen += len(y)
    rates.append(seen / (time.perf_counter() - start))
model.eval()
correct = 0
with torch.no_grad():
    for x, y in loader(val, False):
        correct += (model(x).argmax(1) == y).sum().item()
steady = rates[1:] or rates
print(json.dumps({"framework": "pytorch " + torch.__version__, "model": "resnet18 (frozen)",
                  "threads": a.threads, "batch_size": a.batch_size, "epochs": a.epochs,
                  "train_images_per_s": round(sum(steady) / len(steady), 1),
                  "val_accuracy": round(correct / len(val), 4)}))
