#!/usr/bin/env python3
"""Runs ../shared/reference/torch_lenet_mnist.py unchanged, then saves its trained LeNet with
`torch.save(m.state_dict(), OUT)`: the seed's own PyTorch model, for loading into our `lenet`
(tests/pretrained/torch_lenet_test.ts). The reference's JSON line (with test_accuracy on the
protocol's last 2,000 digits) is printed as it prints it; the reference is never edited.
Run: /usr/bin/python3 bench/torch_lenet_state_dict.py --out lenet.pth [reference args...]
"""
import os, sys
import torch

args = sys.argv[1:]
i = args.index("--out")
out = args[i + 1]
del args[i:i + 2]
here = os.path.dirname(os.path.abspath(__file__))
path = os.path.join(here, "..", "..", "shared", "reference", "torch_lenet_mnist.py")
sys.argv = [path] + args
scope = {"__name__": "__main__", "__file__": path}
exec(compile(open(path).read(), path, "exec"), scope)
torch.save(scope["m"].state_dict(), out)
