#!/usr/bin/env python3
"""Runs ../shared/reference/torch_lenet_mnist.py unchanged except for its seed: both of its
`manual_seed(0)` calls (weights, shuffle) take --seed instead. For comparing accuracy over seeds
beside ours (`deno task bench mnist-protocol --seed N`); the reference itself is never edited.
Run: python3 bench/torch_mnist_seed.py --seed 3 [reference args...]
"""
import os, sys

args = sys.argv[1:]
seed = 0
if "--seed" in args:
    i = args.index("--seed")
    seed = int(args[i + 1])
    del args[i:i + 2]
here = os.path.dirname(os.path.abspath(__file__))
path = os.path.join(here, "..", "..", "shared", "reference", "torch_lenet_mnist.py")
source = open(path).read()
assert source.count("manual_seed(0)") == 2, "the reference changed: check its seeds"
sys.argv = [path] + args
code = compile(source.replace("manual_seed(0)", f"manual_seed({seed})"), path, "exec")
exec(code, {"__name__": "__main__", "__file__": path})
