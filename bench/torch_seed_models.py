#!/usr/bin/env python3
"""The seeds' own PyTorch CNNs, randomly initialised (seeded), saved with
`torch.save(model.state_dict())`, with their eval-mode logits on a fixed random batch: seed 003's
`CNN` (conv 3->32 pad 1, pool, conv 32->64 pad 1, pool, fc 4096->512, fc 512->10, our `cifar-cnn`)
and seed 004's Keras-like small CNN (conv 1->32 / 32->64 pad 1, pools, dropout, fc 3136->128,
dropout, fc 128->10, our `small-cnn`). Checks that they load into the zoo by order
(tests/pretrained/torch_seed_models_test.ts). Writes <out>/<name>.pth and <out>/<name>.json
({"input": NCHW values, "shape": [...], "logits": [...]}). A reference, never a dependency.
Run: /usr/bin/python3 bench/torch_seed_models.py --out DIR
"""
import argparse, json, os
import torch, torch.nn as nn, torch.nn.functional as F

class CNN(nn.Module):  # seed 003
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.fc1 = nn.Linear(64 * 8 * 8, 512)
        self.fc2 = nn.Linear(512, 10)
    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc2(F.relu(self.fc1(torch.flatten(x, 1))))

class SmallCNN(nn.Module):  # seed 004, the Keras model written in PyTorch
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.dropout1 = nn.Dropout(0.25)
        self.fc1 = nn.Linear(64 * 7 * 7, 128)
        self.dropout2 = nn.Dropout(0.5)
        self.fc2 = nn.Linear(128, 10)
    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = self.dropout1(F.max_pool2d(F.relu(self.conv2(x)), 2))
        return self.fc2(self.dropout2(F.relu(self.fc1(torch.flatten(x, 1)))))

p = argparse.ArgumentParser()
p.add_argument("--out", required=True)
a = p.parse_args()
os.makedirs(a.out, exist_ok=True)
torch.manual_seed(0)
for name, model, shape in [("cifar-cnn", CNN(), (2, 3, 32, 32)), ("small-cnn", SmallCNN(), (2, 1, 28, 28))]:
    model.eval()
    x = torch.randn(shape)
    with torch.no_grad():
        logits = model(x)
    torch.save(model.state_dict(), os.path.join(a.out, name + ".pth"))
    with open(os.path.join(a.out, name + ".json"), "w") as f:
        json.dump({"shape": list(shape), "input": x.flatten().tolist(),
                   "logits": logits.flatten().tolist()}, f)
