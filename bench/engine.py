#!/usr/bin/python3
"""PyTorch side of the engine benchmark (bench/engine.c): the same networks, batch sizes
and thread count, images per second (best of `repeats` timed runs after a warm-up).

  (c) train: small ResNet (3x3 stem, 3 stages x 2 basic blocks, 32-64-128, BN, ReLU,
      GAP, Linear), 1x28x28, batch 128, SGD momentum step;
  (a) resnet18 / (b) mobilenet_v2 (torchvision, random init) inference at 3x224x224,
      batch 32, eval mode, no_grad; both are exported with torch.onnx.export to
      build/bench_<name>.onnx for the C side.

Usage: engine.py [threads (2)] [what: all|train|resnet18|mobilenet_v2|export] [repeats (2)] [blocks (2)]
"""
import os
import sys
import time

import torch
import torch.nn as nn
import torchvision

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
what = sys.argv[2] if len(sys.argv) > 2 else "all"
repeats = max(1, int(sys.argv[3]) if len(sys.argv) > 3 else 2)
blocks = max(1, int(sys.argv[4]) if len(sys.argv) > 4 else 2)
torch.set_num_threads(threads)
torch.manual_seed(0)
os.makedirs("build", exist_ok=True)


class Block(nn.Module):
    def __init__(self, cin, c, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, c, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)
        self.down = None
        if stride != 1 or cin != c:
            self.down = nn.Sequential(nn.Conv2d(cin, c, 1, stride, 0, bias=False), nn.BatchNorm2d(c))

    def forward(self, x):
        h = torch.relu(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        return torch.relu(h + (self.down(x) if self.down is not None else x))


def small_resnet(widths=(32, 64, 128), blocks=2, classes=10):
    layers = [nn.Conv2d(1, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU()]
    cin = widths[0]
    for s, c in enumerate(widths):
        for k in range(blocks):
            layers.append(Block(cin, c, 2 if (s > 0 and k == 0) else 1))
            cin = c
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, classes)]
    return nn.Sequential(*layers)


def best_of(fn, n_images):
    fn()  # warm-up
    best = 1e30
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return n_images / best


def bench_train():
    net = small_resnet(blocks=blocks)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    x = torch.randn(128, 1, 28, 28)
    y = torch.arange(128) % 10
    loss_fn = nn.CrossEntropyLoss()
    steps = 10

    def run():
        for _ in range(steps):
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(x), y)
            loss.backward()
            opt.step()

    print("torch train_small_resnet%d %.1f img/s" % (blocks, best_of(run, 128 * steps)), flush=True)


def make(name):
    return getattr(torchvision.models, name)(weights=None).eval()


def export(name):
    path = "build/bench_%s.onnx" % name
    if not os.path.exists(path):
        net = make(name)
        torch.onnx.export(net, torch.randn(1, 3, 224, 224), path, opset_version=13, input_names=["input"],
                          output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    return path


def bench_infer(name):
    export(name)
    net = make(name)
    x = torch.randn(32, 3, 224, 224)
    iters = 3

    def run():
        with torch.no_grad():
            for _ in range(iters):
                net(x)

    print("torch %s %.1f img/s" % (name, best_of(run, 32 * iters)), flush=True)


if what == "export":
    export("resnet18")
    export("mobilenet_v2")
if what in ("all", "train"):
    bench_train()
if what in ("all", "resnet18"):
    bench_infer("resnet18")
if what in ("all", "mobilenet_v2"):
    bench_infer("mobilenet_v2")
