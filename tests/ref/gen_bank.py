#!/usr/bin/python3
"""Writes tests/ref/bank/: a bank of three small ONNX models of different architectures
(seeded random weights, no training) and expected.json, what `xfer bank init` must write
for each, computed here independently of xfer:

  sha256          hashlib over the file
  layers          Conv + Gemm + MatMul nodes of the ONNX graph (PARC's depth)
  params          sum of numel over the PyTorch module's parameters() (BN running
                  statistics are buffers, not parameters)
  source_classes  the width of the logits
  input           (C, H, W) of the dummy input
  feature_tensor  the name of the first input of the last Gemm/MatMul node
  architecture    the graph name set below

Models (input 1x16x16 or 3x12x12: the test data is the 8x8 digits, so every model gets
its images resized, and one gets them replicated to 3 channels):
  convnet   Conv-BN-ReLU-MaxPool-Conv-BN-ReLU-GAP-Linear(16 -> 10), input 1x16x16
  mlp       Flatten-Linear(256 -> 24)-ReLU-Linear(24 -> 10), input 1x16x16
  resblock  Conv stem, one residual block, GAP, Linear(12 -> 6), input 3x12x12
Also a small labelled set for the rank tests: digits_train_x.npy (200, 1, 8, 8) float32
pixels / 16 and digits_train_y.npy (int64), digits_test_x/_y.npy (100 more), the first
300 rows of scikit-learn's digits (8x8 images: smaller than every model's input).
Run: /usr/bin/python3 tests/ref/gen_bank.py (from the repository root)."""
import hashlib
import io
import json
import os

import onnx
import torch
import torch.nn as nn

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bank")


class ConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                                  nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        return self.fc(self.body(x))


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(256, 24), nn.ReLU(), nn.Linear(24, 10))

    def forward(self, x):
        return self.net(x)


class ResBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 12, 3, padding=1), nn.ReLU())
        self.c1 = nn.Conv2d(12, 12, 3, padding=1)
        self.c2 = nn.Conv2d(12, 12, 3, padding=1)
        self.fc = nn.Linear(12, 6)

    def forward(self, x):
        h = self.stem(x)
        h = torch.relu(h + self.c2(torch.relu(self.c1(h))))
        return self.fc(h.mean(dim=(2, 3)))


def export(model, name, shape):
    model = model.float().eval()
    buf = io.BytesIO()
    torch.onnx.export(model, torch.zeros(2, *shape), buf, opset_version=13, input_names=["input"],
                      output_names=["logits"], dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=True,
                      keep_initializers_as_inputs=False)
    proto = onnx.load_from_string(buf.getvalue())
    proto.graph.name = name
    onnx.checker.check_model(proto)
    data = proto.SerializeToString()
    with open(os.path.join(OUT, name + ".onnx"), "wb") as f:
        f.write(data)
    nodes = proto.graph.node
    weighted = [n for n in nodes if n.op_type in ("Conv", "Gemm", "MatMul")]
    last = [n for n in nodes if n.op_type in ("Gemm", "MatMul")][-1]
    with torch.no_grad():
        z = model(torch.zeros(1, *shape)).shape[1]
    return {"file": name + ".onnx", "sha256": hashlib.sha256(data).hexdigest(), "architecture": name,
            "layers": len(weighted), "params": sum(p.numel() for p in model.parameters()),
            "source_classes": int(z), "input": {"channels": shape[0], "height": shape[1], "width": shape[2]},
            "feature_tensor": last.input[0], "logits_tensor": "logits", "bytes": len(data)}


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(8)
    expected = {}
    for name, model, shape in (("convnet", ConvNet(), (1, 16, 16)), ("mlp", MLP(), (1, 16, 16)),
                               ("resblock", ResBlock(), (3, 12, 12))):
        expected[name] = export(model, name, shape)
        assert expected[name]["bytes"] < 200_000
    from sklearn.datasets import load_digits
    import numpy as np
    d = load_digits()
    x = (d.images[:300] / 16.0).astype(np.float32).reshape(300, 1, 8, 8)
    y = d.target[:300].astype(np.int64)
    for name, sl in (("train", slice(0, 200)), ("test", slice(200, 300))):
        np.save(os.path.join(OUT, "digits_%s_x.npy" % name), x[sl])
        np.save(os.path.join(OUT, "digits_%s_y.npy" % name), y[sl])
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")
    for k, v in expected.items():
        print(k, v["layers"], v["params"], v["feature_tensor"], v["bytes"], "bytes")


if __name__ == "__main__":
    main()
