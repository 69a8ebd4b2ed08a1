#!/usr/bin/env python3
"""PyTorch's side of `deno task bench serve`: the same model in eval mode behind Python's
http.server (ThreadingHTTPServer, one thread per connection, no batching), answering
`POST /predict` with a JPEG/PNG body as top-5 JSON. PIL decodes; torchvision's transforms
preprocess (Resize, CenterCrop, ToTensor, Normalize), as our server does with its run's pipeline.
Random weights (seeded), like the Deno side: throughput only.

Models: mobilenetv2 (torchvision's mobilenet_v2, 1000 classes, 224 px from Resize 256) and
compact-cnn (ours in PyTorch, as in bench/torch_train_step.py: conv 16/32/64 + batch norm + ReLU +
max-pool, global pooling, fc 10; 32 px).

Run: /usr/bin/python3 bench/torch_serve.py --model mobilenetv2 --port 8090 [--threads 2]
     [--malloc reuse|glibc]  (reuse, the default: PyTorch at its best; see _torch_malloc.py)
then: deno task bench serve --url http://127.0.0.1:8090/predict --duration 15
"""
import argparse
import io
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from _torch_malloc import CHOICES, HELP, set_malloc

parser = argparse.ArgumentParser()
parser.add_argument("--model", choices=["mobilenetv2", "compact-cnn"], default="mobilenetv2")
parser.add_argument("--port", type=int, default=8090)
parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
parser.add_argument("--malloc", choices=CHOICES, default="reuse", help=HELP)
args = parser.parse_args()
set_malloc(args.malloc)

import torch
import torch.nn as nn
import torchvision
from PIL import Image
from torchvision import transforms

torch.set_num_threads(args.threads)
torch.manual_seed(0)


def compact():
    layers, c = [], 3
    for f in (16, 32, 64):
        layers += [nn.Conv2d(c, f, 3, padding=1, bias=False), nn.BatchNorm2d(f), nn.ReLU(), nn.MaxPool2d(2)]
        c = f
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))


if args.model == "mobilenetv2":
    model, crop, short = torchvision.models.mobilenet_v2(num_classes=1000), 224, 256
else:
    model, crop, short = compact(), 32, 32
model.eval()
preprocess = transforms.Compose([
    transforms.Resize(short),
    transforms.CenterCrop(crop),
    transforms.ToTensor(),
    transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
])
MAX_BODY = 20 * 2**20


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Deno.serve

    def log_message(self, *_):
        pass

    def reply(self, status, body):
        data = (json.dumps(body) + "\n").encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        if self.path.split("?")[0] != "/predict":
            self.rfile.read(length)
            return self.reply(404, {"error": "no such path"})
        if length == 0 or length > MAX_BODY:
            self.rfile.read(min(length, MAX_BODY))
            return self.reply(413 if length else 400, {"error": "bad body size"})
        body = self.rfile.read(length)
        try:
            image = Image.open(io.BytesIO(body)).convert("RGB")
        except Exception as error:  # noqa: BLE001 - any decode failure is the client's
            return self.reply(422, {"error": str(error)})
        with torch.inference_mode():
            probabilities = torch.softmax(model(preprocess(image).unsqueeze(0)), 1)[0]
        top = torch.topk(probabilities, 5)
        self.reply(200, {"predictions": [{"name": "body", "top": [
            {"label": f"class {i}", "index": int(i), "probability": float(p)}
            for p, i in zip(top.values, top.indices)]}]})


server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
print(f"torch_serve: {args.model} on http://127.0.0.1:{args.port}/predict", flush=True)
try:
    server.serve_forever()
except KeyboardInterrupt:
    pass
