#!/usr/bin/env python3
"""Grad-CAM in PyTorch (autograd on the target activation), the reference for lib/explain's gradCam
(tests/explain/torch_gradcam_test.ts). The net is tiny and built from weights given as JSON, in
TF.js layouts (kernels height × width × in × out, dense in × out), so both sides run the same:

  conv 3×3 'same' + ReLU -> conv 3×3 stride 2 'valid' + ReLU (the target) -> global average
  pool -> linear

Grad-CAM: weights = spatial mean of d logit[class] / d A, cam = ReLU(sum_c w_c A_c), upsampled
bilinearly (align_corners=False) to the image, divided by its maximum.
Input JSON: {"image": [h*w*c floats, HWC], "shape": [h, w, c], "conv1": [kernel, bias],
"conv2": [kernel, bias], "dense": [kernel, bias], "classIndex": int or null}, each kernel a
flat list with its TF.js shape in "<name>Shape".
Prints one JSON line: {"classIndex", "scores", "cam", "camShape", "heatmap"}.
Run: /usr/bin/python3 bench/torch_gradcam.py spec.json

Second mode, a real architecture: `bench/torch_gradcam.py torchvision mobilenet_v2 SIZE DIR`
builds torchvision's net with seeded random weights (batch norm calibrated) and 10 classes, saves DIR/weights.pth (for
loadTorchvision) and DIR/image.json (a seeded SIZE × SIZE × 3 input, HWC), and prints the same
JSON line for Grad-CAM on `features` (the last spatial output) of the predicted class.
"""
import json, sys
import torch
import torch.nn.functional as F



def grad_cam(a, scores, cls, h, w):
    """Grad-CAM from an activation that retained its gradient and the scores it led to."""
    if cls is None:
        cls = int(scores.argmax(dim=1)[0])
    scores[0, cls].backward()
    weights = a.grad.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * a).sum(dim=1, keepdim=True)).detach()
    up = F.interpolate(cam, size=(h, w), mode="bilinear", align_corners=False)
    peak = up.max()
    heatmap = up / peak if peak > 0 else torch.zeros_like(up)
    return json.dumps({
        "classIndex": cls,
        "scores": scores.detach()[0].tolist(),
        "cam": cam[0, 0].flatten().tolist(),
        "camShape": list(cam.shape[2:]),
        "heatmap": heatmap[0, 0].flatten().tolist(),
    })


if sys.argv[1] == "torchvision":
    import os
    import torchvision
    name, size, out = sys.argv[2], int(sys.argv[3]), sys.argv[4]
    torch.manual_seed(0)
    net = getattr(torchvision.models, name)(num_classes=10)
    # Random init shrinks activations to ~1e-10 by the last block (depthwise convs' fan-out
    # init); one training-mode pass of random images sets batch norm's statistics so that every
    # layer sees unit-scale inputs, as trained weights do.
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = None
    with torch.no_grad():
        net.train()(torch.rand(8, 3, size, size))
    net.eval()
    torch.save(net.state_dict(), os.path.join(out, "weights.pth"))
    x = torch.rand(1, 3, size, size)
    json.dump({"image": x[0].permute(1, 2, 0).flatten().tolist(), "shape": [size, size, 3]},
              open(os.path.join(out, "image.json"), "w"))
    a = net.features(x)
    a.retain_grad()
    scores = net.classifier(torch.flatten(F.adaptive_avg_pool2d(a, 1), 1))
    print(grad_cam(a, scores, None, size, size))
    sys.exit(0)

spec = json.load(open(sys.argv[1]))
h, w, c = spec["shape"]
x = torch.tensor(spec["image"], dtype=torch.float64).reshape(1, h, w, c).permute(0, 3, 1, 2)
x.requires_grad_(True)  # so that autograd reaches the target activation


def conv_weight(name):
    kh, kw, cin, cout = spec[name + "Shape"]
    kernel = torch.tensor(spec[name][0], dtype=torch.float64).reshape(kh, kw, cin, cout)
    return kernel.permute(3, 2, 0, 1), torch.tensor(spec[name][1], dtype=torch.float64)


k1, b1 = conv_weight("conv1")
k2, b2 = conv_weight("conv2")
din, dout = spec["denseShape"]
kd = torch.tensor(spec["dense"][0], dtype=torch.float64).reshape(din, dout)
bd = torch.tensor(spec["dense"][1], dtype=torch.float64)

a1 = F.relu(F.conv2d(x, k1, b1, padding=1))
a = F.relu(F.conv2d(a1, k2, b2, stride=2))
a.retain_grad()  # the hook-free way to read d logit / d A
scores = a.mean(dim=(2, 3)) @ kd + bd
print(grad_cam(a, scores, spec.get("classIndex"), h, w))
