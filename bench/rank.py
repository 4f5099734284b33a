#!/usr/bin/python3
"""bench/rank: ranking a bank with xfer against the equivalent Python pipeline.

The Python side is what a user of the papers' code runs: PyTorch extraction (the same
networks, eval mode, a forward hook on the input of the last nn.Linear for the features,
softmax of the output for the source probabilities) and the published estimator code
(bench/ref/: PARC and k-NN from dbolya/parc, LogME from thuml/LogME, LEEP from its paper),
on the same probe images. xfer's side is one `xfer rank` call (--no-cache, --probe 0 on
the same images); its --json gives each model's extraction and scoring seconds.

Steps (bench/rank.sh drives them):
  --make DIR [--small 16] [--imagenet resnet18,mobilenet_v2,efficientnet_b0,densenet121]
      DIR/small: `--small` small CNNs / MLPs / residual nets on 1x28x28 (random, seeded
      weights; widths and depths vary), DIR/imagenet: torchvision models with random
      weights on 3x224x224; each exported to ONNX, `xfer bank init` is run by the shell
      script and the PyTorch recipe of each model is kept in bank.json ("torch" key, which
      xfer keeps as an extra key).
  --data OUT.npy [--n 500]
      n labelled Fashion-MNIST test images (uint8 (N, 28, 28), labels OUT_y.npy beside),
      the probe set both sides use whole.
  --python BANK X.npy --threads T  >  py.jsonl
      PyTorch extraction + reference estimators, seconds per model.
  --join XFER.json PY.jsonl
      a Markdown table: per model, extraction and scoring seconds side by side.
Figures are taken by the lead on an idle machine; nothing here asserts a time."""
import argparse
import io
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "ref"))

METHODS = ["parc", "logme", "knn", "leep"]


# ---------------------------------------------------------------- the small bank

class SmallCNN(nn.Module):
    def __init__(self, width, depth, classes):
        super().__init__()
        layers, c = [], 1
        for i in range(depth):
            layers += [nn.Conv2d(c, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU()]
            if i % 2 == 1:
                layers.append(nn.MaxPool2d(2))
            c = width
        self.body = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(c, classes)

    def forward(self, x):
        return self.fc(self.body(x))


class SmallMLP(nn.Module):
    def __init__(self, width, depth, classes):
        super().__init__()
        layers, d = [nn.Flatten()], 28 * 28
        for _ in range(depth):
            layers += [nn.Linear(d, width), nn.ReLU()]
            d = width
        self.body = nn.Sequential(*layers)
        self.fc = nn.Linear(d, classes)

    def forward(self, x):
        return self.fc(self.body(x))


class SmallRes(nn.Module):
    def __init__(self, width, depth, classes):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, width, 3, padding=1), nn.ReLU())
        self.blocks = nn.ModuleList(nn.Sequential(nn.Conv2d(width, width, 3, padding=1), nn.ReLU(),
                                                  nn.Conv2d(width, width, 3, padding=1)) for _ in range(depth))
        self.fc = nn.Linear(width, classes)

    def forward(self, x):
        h = self.stem(x)
        for b in self.blocks:
            h = torch.relu(h + b(h))
        return self.fc(h.mean(dim=(2, 3)))


KINDS = {"cnn": SmallCNN, "mlp": SmallMLP, "res": SmallRes}


def small_recipes(n):
    """n (name, kind, width, depth, classes) varied over the three families."""
    out = []
    widths, depths = [8, 16, 32, 24], [1, 2, 3, 4]
    for i in range(n):
        kind = ["cnn", "mlp", "res"][i % 3]
        w, d = widths[i % 4], depths[(i // 3) % 4]
        if kind == "mlp":
            w *= 4
        out.append(("%s%d_w%d_d%d" % (kind, i, w, d), kind, w, d, 10 + (i % 3) * 5))
    return out


def build(recipe):
    """The PyTorch module of a bank.json "torch" recipe, seeded by its name."""
    parts = recipe.split(":")
    torch.manual_seed(sum(map(ord, recipe)))
    if parts[0] == "small":
        _, kind, w, d, z = parts[:5]
        return KINDS[kind](int(w), int(d), int(z)).eval()
    import torchvision
    return getattr(torchvision.models, parts[1])(weights=None).eval()


def export(model, path, shape):
    buf = io.BytesIO()
    torch.onnx.export(model, torch.zeros(2, *shape), buf, opset_version=13, input_names=["input"],
                      output_names=["logits"], dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=True)
    with open(path, "wb") as f:
        f.write(buf.getvalue())


def make(args):
    banks = {"small": [], "imagenet": []}
    for name, kind, w, d, z in small_recipes(args.small):
        # the index joins the recipe (and so the seed): the designs repeat every 12 models
        banks["small"].append((name, "small:%s:%d:%d:%d:%s" % (kind, w, d, z, name), (1, 28, 28)))
    for arch in [a for a in args.imagenet.split(",") if a]:
        banks["imagenet"].append((arch, "tv:" + arch, (3, 224, 224)))
    for bank, models in banks.items():
        d = os.path.join(args.make, bank)
        os.makedirs(d, exist_ok=True)
        entries = []
        for name, recipe, shape in models:
            export(build(recipe), os.path.join(d, name + ".onnx"), shape)
            entries.append({"name": name, "file": name + ".onnx", "torch": recipe, "architecture": recipe.split(":")[1]})
            print("exported", bank, name, file=sys.stderr)
        # a partial bank.json: xfer bank init fills the rest and keeps "torch"
        with open(os.path.join(d, "bank.json"), "w") as f:
            json.dump({"format": "xfer-bank", "version": 1, "models": entries}, f, indent=1)


def data(args):
    import gzip
    root = "/usr/share/datasets/fashion-mnist"
    with gzip.open(os.path.join(root, "t10k-images-idx3-ubyte.gz")) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(os.path.join(root, "t10k-labels-idx1-ubyte.gz")) as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
    np.save(args.data, x[:args.n])
    np.save(args.data.replace("_x.npy", "_y.npy") if args.data.endswith("_x.npy") else args.data[:-4] + "_y.npy",
            y[:args.n])


# ---------------------------------------------------------------- the Python pipeline

def images_for(x, entry):
    """uint8 (N, 28, 28) -> float (N, C, H, W) as xfer converts them: [0, 1], bilinear
    antialiased resize, channel replication, (x - mean) / std."""
    t = torch.from_numpy(x.astype(np.float32) / 255.0)[:, None]
    inp = entry["input"]
    C, H, W = inp["channels"], inp["height"], inp["width"]
    if (H, W) != tuple(t.shape[2:]):
        t = torch.nn.functional.interpolate(t, size=(H, W), mode="bilinear", antialias=True, align_corners=False)
    if C == 3:
        t = t.repeat(1, 3, 1, 1)
    mean = torch.tensor((inp["mean"] * 3)[:C]).view(1, C, 1, 1)
    std = torch.tensor((inp["std"] * 3)[:C]).view(1, C, 1, 1)
    return (t - mean) / std


def extract(model, x, batch=32):
    last = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    feats = []
    h = last.register_forward_hook(lambda m, i, o: feats.append(i[0].detach().flatten(1)))
    outs = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            outs.append(torch.softmax(model(x[i:i + batch]), dim=1))
    h.remove()
    return torch.cat(feats).numpy(), torch.cat(outs).numpy()


def python(args):
    import ref_knn_linear_parc as ref_klp
    import ref_second_order as ref_so
    import ref_leep_lda as ref_ll
    torch.set_num_threads(args.threads)
    x = np.load(args.python[1])
    y = np.load(args.python[1][:-6] + "_y.npy" if args.python[1].endswith("_x.npy") else args.python[1][:-4] + "_y.npy")
    with open(os.path.join(args.python[0], "bank.json")) as f:
        bank = json.load(f)
    # PARC's PCA clamped to min(N - 1, D) components, as xfer does (docs/ESTIMATORS.md)
    est = {"parc": lambda F, P: ref_klp.parc(F, y, dims=min(32, F.shape[1], len(y) - 1)), "logme": lambda F, P: ref_so.logme(F, y),
           "knn": lambda F, P: ref_klp.knn(F, y), "leep": lambda F, P: ref_ll.leep(P, y)}
    for e in bank["models"]:
        model = build(e["torch"])
        xi = images_for(x, e)
        t0 = time.perf_counter()
        F, P = extract(model, xi)
        te = time.perf_counter() - t0
        scores = {}
        t0 = time.perf_counter()
        for m in METHODS:
            scores[m] = float(est[m](F.astype(np.float32), P))
        ts = time.perf_counter() - t0
        print(json.dumps({"model": e["name"], "seconds_extract": te, "seconds_score": ts, "N": len(x),
                          "D": int(F.shape[1]), "scores": scores}), flush=True)


def join(args):
    xf = {}
    with open(args.join[0]) as f:
        for line in f:
            o = json.loads(line)
            if "model" in o:
                xf[o["model"]] = o
    py = {}
    with open(args.join[1]) as f:
        for line in f:
            o = json.loads(line)
            py[o["model"]] = o
    print("| model | D | extract xfer (s) | extract PyTorch (s) | score xfer (s) | score Python (s) | xfer rank | parc xfer / Python |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for name, p in py.items():
        x = xf.get(name, {})
        xs = x.get("scores", {})
        print("| %s | %d | %s | %.3f | %s | %.3f | %s | %s / %.4g |" % (
            name, p["D"], "%.3f" % x["seconds_extract"] if x else "-", p["seconds_extract"],
            "%.3f" % x["seconds_score"] if x else "-", p["seconds_score"], x.get("rank", "-"),
            "%.4g" % xs["parc"] if xs.get("parc") is not None else "-", p["scores"]["parc"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--make")
    ap.add_argument("--small", type=int, default=16)
    ap.add_argument("--imagenet", default="resnet18,mobilenet_v2,efficientnet_b0,densenet121")
    ap.add_argument("--data")
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--python", nargs=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--join", nargs=2)
    args = ap.parse_args()
    if args.make:
        make(args)
    elif args.data:
        data(args)
    elif args.python:
        python(args)
    elif args.join:
        join(args)
    else:
        ap.error("nothing to do")


if __name__ == "__main__":
    main()
