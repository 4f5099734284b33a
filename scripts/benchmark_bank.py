#!/usr/bin/python3
"""Assembles the corpus benchmark bank (docs/SELECTION.md) in BANK from an expert bank:
the generalist and the full experts of EXPERTS (xfer experts build), three networks
PyTorch pretrained on Fashion-MNIST at 16x16 (tests/ref/finetune/: ResNet, MobileNet,
GroupNorm CNN) and a random-weights CNN (tests/ref/bank/convnet.onnx), with a partial
bank.json (name, file, source, kind, slice, input) that `xfer bank init BANK` completes.
Files already in BANK are kept; an existing bank.json is left alone.
Usage: scripts/benchmark_bank.py EXPERTS BANK (from the repository root). Standard library only."""
import json, os, shutil, sys
experts, bank = sys.argv[1], sys.argv[2]
os.makedirs(bank, exist_ok=True)
ej = json.load(open(os.path.join(experts, "experts.json")))
inp = ej["input"]
models = [{"name": "generalist", "file": "generalist.onnx", "source": "corpus-upstream",
           "kind": "generalist", "input": inp, "src": os.path.join(experts, ej["generalist"])}]
for e in ej["experts"]:
    if e["kind"] == "full":
        models.append({"name": e["name"], "file": e["file"], "source": "upstream-slice:" + e["slice"],
                       "kind": "full", "slice": e["slice"], "slice_size": e["slice_size"],
                       "input": inp, "src": os.path.join(experts, e["file"])})
small = {"channels": 1, "height": 16, "width": 16, "mean": [0.0], "std": [1.0]}
for net in ("resnet", "mobilenet", "groupnorm"):
    models.append({"name": "fashion-" + net, "file": "fashion-" + net + ".onnx", "source": "fashion-mnist",
                   "architecture": net + "16", "kind": "pretrained", "input": small,
                   "src": os.path.join("tests/ref/finetune", net + ".onnx")})
models.append({"name": "random-convnet", "file": "random-convnet.onnx", "source": "random-weights",
               "architecture": "convnet16", "kind": "random", "input": small,
               "src": "tests/ref/bank/convnet.onnx"})
entries = []
for m in models:
    dst = os.path.join(bank, m["file"])
    if not os.path.exists(dst):
        shutil.copyfile(m.pop("src"), dst + ".tmp")
        os.replace(dst + ".tmp", dst)
    else:
        m.pop("src")
    entries.append(m)
path = os.path.join(bank, "bank.json")
if not os.path.exists(path):
    with open(path + ".tmp", "w") as f:
        json.dump({"format": "xfer-bank", "version": 1, "models": entries}, f, indent=1)
    os.replace(path + ".tmp", path)
