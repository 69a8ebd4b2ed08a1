#!/usr/bin/env python3
"""PyTorch side of the torchvision parity check (tests/pretrained/torchvision_parity_test.ts and
`deno run … bench/pretrained_parity.ts`): for each architecture, a randomly initialised
torchvision model whose batch-norm statistics and affine parameters are randomised too, saved
with `torch.save(model.state_dict())`, and its eval-mode logits on a real photo preprocessed with
the weights' own transforms (PIL decode, resize 256, center crop 224, ImageNet mean/std).

Writes <out>/<arch>.pth and <out>/<arch>.json ({"logits": [...], "input": "<photo>"}).
A reference for checks, never a dependency.
Run: /usr/bin/python3 bench/torch_pretrained.py --out data/parity --photo IMG [resnet18 ...]
"""
import argparse, json, os
import torch, torchvision
from PIL import Image
from torchvision import transforms as T

ARCHS = ["resnet18", "resnet50", "mobilenet_v2", "mobilenet_v3_large", "efficientnet_b0"]
BICUBIC = {"efficientnet_b0"}

p = argparse.ArgumentParser()
p.add_argument("--out", required=True)
p.add_argument("--photo", required=True)
p.add_argument("--seed", type=int, default=0)
p.add_argument("archs", nargs="*", default=ARCHS)
a = p.parse_args()
torch.set_num_threads(2)
os.makedirs(a.out, exist_ok=True)

for arch in a.archs:
    torch.manual_seed(a.seed)
    model = getattr(torchvision.models, arch)()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.num_batches_tracked.fill_(1234)
    model.eval()
    interpolation = T.InterpolationMode.BICUBIC if arch in BICUBIC else T.InterpolationMode.BILINEAR
    tf = T.Compose([T.Resize(256, interpolation=interpolation), T.CenterCrop(224), T.ToTensor(),
                    T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    x = tf(Image.open(a.photo).convert("RGB")).unsqueeze(0)
    with torch.no_grad():
        logits = model(x)[0]
    torch.save(model.state_dict(), os.path.join(a.out, arch + ".pth"))
    with open(os.path.join(a.out, arch + ".json"), "w") as f:
        json.dump({"arch": arch, "input": a.photo, "torch": torch.__version__,
                   "torchvision": torchvision.__version__, "logits": logits.tolist()}, f)
    print(json.dumps({"arch": arch, "max_abs_logit": float(logits.abs().max()),
                      "top1": int(logits.argmax())}))
