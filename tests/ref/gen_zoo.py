#!/usr/bin/python3
"""Zoo-style models at old opsets, written node by node as the ONNX Model Zoo's classic
CNNs were (Caffe2 / early converters: opsets 6-9, LRN and BatchNormalization nodes kept,
biases added with legacy broadcast, PRelu, Dropout before the classifier, Softmax at the
end), small enough for the digits fixtures (input (N, 1, 16, 16)); PyTorch computes the
reference features (the input of the last Gemm) and logits, independently of xfer.

Writes tests/ref/onnx/zoo/:
  alexnet_op7.onnx    Conv-BN(spatial=1)-Relu-LRN-MaxPool, Conv-Relu-LRN-MaxPool, Flatten,
                      Gemm-Relu-Dropout, Gemm, Softmax (AlexNet / CaffeNet / ZFNet shape)
  inception_op9.onnx  Conv-BN-PRelu(per channel)-MaxPool, an inception block (1x1 and 3x3
                      branches, Concat), PRelu(one slope), GlobalAveragePool, Flatten, Gemm
  caffe2_op6.onnx     Conv without bias + Add(bias, broadcast=1, axis=1), BN(is_test=1), Relu,
                      LRN, AveragePool, Conv, Relu, GlobalMaxPool, Flatten, Gemm, Softmax
  input.npy           (2, 1, 16, 16) float32; <model>_features.npy, <model>_logits.npy
The logits of alexnet_op7 and caffe2_op6 are the Softmax outputs (the graph's output).
Weights: seeded He-normal convolutions and linears, BN statistics drawn positive.
Run: /usr/bin/python3 tests/ref/gen_zoo.py
"""
import os

import numpy as np
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "onnx", "zoo")
os.makedirs(OUT, exist_ok=True)
r = np.random.default_rng(20)


def he(*s):
    fan_in = int(np.prod(s[1:]))
    return (r.standard_normal(s) * np.sqrt(2.0 / fan_in)).astype(np.float32)


def vec(n, lo=-0.1, hi=0.1):
    return r.uniform(lo, hi, n).astype(np.float32)


def f32(name, a):
    return numpy_helper.from_array(np.asarray(a, dtype=np.float32), name)


def bn_params(p, c):
    return {p + "_s": vec(c, 0.8, 1.2), p + "_b": vec(c), p + "_m": vec(c), p + "_v": vec(c, 0.5, 1.5)}


def write(name, nodes, params, opset, out_shape):
    inputs = [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, 16, 16])]
    if opset < 8:  # IR version 3: every initializer is also a graph input, as in the zoo's files
        inputs += [helper.make_tensor_value_info(k, TensorProto.FLOAT, list(v.shape)) for k, v in params.items()]
    g = helper.make_graph(nodes, name, inputs, [helper.make_tensor_value_info("prob", TensorProto.FLOAT, ["N", out_shape])],
                          [f32(k, v) for k, v in params.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="gen_zoo.py")
    m.ir_version = 3 if opset < 8 else 4
    with open(os.path.join(OUT, name + ".onnx"), "wb") as f:
        f.write(m.SerializeToString())


def save(name, a):
    np.save(os.path.join(OUT, name + ".npy"), np.ascontiguousarray(a, dtype=np.float32))


def lrn(x, size, alpha, beta, bias):
    """ONNX LRN written out (channels c - floor((size-1)/2) .. c + ceil((size-1)/2))."""
    C = x.shape[1]
    lo, hi = (size - 1) // 2, size // 2
    sq = x * x
    s = torch.stack([sq[:, max(0, c - lo):min(C, c + hi + 1)].sum(1) for c in range(C)], 1)
    return x / (bias + alpha / size * s) ** beta


def bn(x, P, p, eps=1e-5):
    t = {k: torch.from_numpy(P[p + k]) for k in ("_s", "_b", "_m", "_v")}
    return F.batch_norm(x, t["_m"], t["_v"], t["_s"], t["_b"], False, 0.0, eps)


T = lambda a: torch.from_numpy(a)
x = r.standard_normal((2, 1, 16, 16)).astype(np.float32)
save("input", x)
xt = T(x)
N = helper.make_node

# ---- alexnet_op7 ----
P = {"conv1_w": he(8, 1, 3, 3), "conv1_b": vec(8), "conv2_w": he(16, 8, 3, 3), "conv2_b": vec(16),
     "fc6_w": he(32, 144), "fc6_b": vec(32), "fc7_w": he(10, 32), "fc7_b": vec(10)}
P.update(bn_params("bn1", 8))
nodes = [
    N("Conv", ["input", "conv1_w", "conv1_b"], ["c1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], name="conv1"),
    N("BatchNormalization", ["c1", "bn1_s", "bn1_b", "bn1_m", "bn1_v"], ["b1"], spatial=1, epsilon=1e-5, name="bn1"),
    N("Relu", ["b1"], ["r1"], name="relu1"),
    N("LRN", ["r1"], ["n1"], size=5, alpha=1e-2, beta=0.75, bias=1.0, name="norm1"),
    N("MaxPool", ["n1"], ["p1"], kernel_shape=[3, 3], strides=[2, 2], name="pool1"),          # 16 -> 7
    N("Conv", ["p1", "conv2_w", "conv2_b"], ["c2"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], name="conv2"),
    N("Relu", ["c2"], ["r2"], name="relu2"),
    N("LRN", ["r2"], ["n2"], size=5, alpha=1e-2, beta=0.75, bias=1.0, name="norm2"),
    N("MaxPool", ["n2"], ["p2"], kernel_shape=[2, 2], strides=[2, 2], name="pool2"),          # 7 -> 3
    N("Flatten", ["p2"], ["f"], name="flatten"),
    N("Gemm", ["f", "fc6_w", "fc6_b"], ["g6"], transB=1, name="fc6"),
    N("Relu", ["g6"], ["r6"], name="relu6"),
    N("Dropout", ["r6"], ["d6"], ratio=0.5, name="drop6"),
    N("Gemm", ["d6", "fc7_w", "fc7_b"], ["g7"], transB=1, name="fc7"),
    N("Softmax", ["g7"], ["prob"], name="prob"),
]
write("alexnet_op7", nodes, P, 7, 10)
with torch.no_grad():
    y = F.relu(bn(F.conv2d(xt, T(P["conv1_w"]), T(P["conv1_b"]), padding=1), P, "bn1"))
    y = F.max_pool2d(lrn(y, 5, 1e-2, 0.75, 1.0), 3, 2)
    y = F.relu(F.conv2d(y, T(P["conv2_w"]), T(P["conv2_b"]), padding=1))
    y = F.max_pool2d(lrn(y, 5, 1e-2, 0.75, 1.0), 2, 2).flatten(1)
    feat = F.relu(F.linear(y, T(P["fc6_w"]), T(P["fc6_b"])))
    prob = torch.softmax(F.linear(feat, T(P["fc7_w"]), T(P["fc7_b"])), 1)
save("alexnet_op7_features", feat.numpy())
save("alexnet_op7_logits", prob.numpy())

# ---- inception_op9 ----
P = {"conv1_w": he(8, 1, 3, 3), "conv1_b": vec(8), "prelu1": vec(8, 0.05, 0.3).reshape(8, 1, 1),
     "b1x1_w": he(6, 8, 1, 1), "b1x1_b": vec(6), "b3x3_w": he(6, 8, 3, 3), "b3x3_b": vec(6),
     "prelu2": np.array([0.2], np.float32), "fc_w": he(10, 12), "fc_b": vec(10)}
P.update(bn_params("bn1", 8))
nodes = [
    N("Conv", ["input", "conv1_w", "conv1_b"], ["c1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2], name="conv1"),
    N("BatchNormalization", ["c1", "bn1_s", "bn1_b", "bn1_m", "bn1_v"], ["b1"], epsilon=1e-3, name="bn1"),
    N("PRelu", ["b1", "prelu1"], ["a1"], name="prelu1"),
    N("MaxPool", ["a1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2], name="pool1"),          # 8 -> 4
    N("Conv", ["p1", "b1x1_w", "b1x1_b"], ["i1"], kernel_shape=[1, 1], name="inc_1x1"),
    N("Conv", ["p1", "b3x3_w", "b3x3_b"], ["i3"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], name="inc_3x3"),
    N("Concat", ["i1", "i3"], ["cat"], axis=1, name="inc_concat"),
    N("PRelu", ["cat", "prelu2"], ["a2"], name="prelu2"),
    N("GlobalAveragePool", ["a2"], ["gap"], name="gap"),
    N("Flatten", ["gap"], ["f"], name="flatten"),
    N("Gemm", ["f", "fc_w", "fc_b"], ["prob"], transB=1, name="fc"),
]
write("inception_op9", nodes, P, 9, 10)
with torch.no_grad():
    y = bn(F.conv2d(xt, T(P["conv1_w"]), T(P["conv1_b"]), stride=2, padding=1), P, "bn1", 1e-3)
    y = F.max_pool2d(F.prelu(y, T(P["prelu1"].reshape(8))), 2, 2)
    y = torch.cat([F.conv2d(y, T(P["b1x1_w"]), T(P["b1x1_b"])), F.conv2d(y, T(P["b3x3_w"]), T(P["b3x3_b"]), padding=1)], 1)
    feat = F.prelu(y, T(P["prelu2"])).mean((2, 3))
    logits = F.linear(feat, T(P["fc_w"]), T(P["fc_b"]))
save("inception_op9_features", feat.numpy())
save("inception_op9_logits", logits.numpy())

# ---- caffe2_op6 ----
P = {"conv1_w": he(8, 1, 3, 3), "conv1_bias": vec(8), "conv2_w": he(12, 8, 3, 3), "conv2_b": vec(12),
     "fc_w": he(10, 12), "fc_b": vec(10)}
P.update(bn_params("bn1", 8))
nodes = [
    N("Conv", ["input", "conv1_w"], ["c1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], name="conv1"),
    N("Add", ["c1", "conv1_bias"], ["c1b"], broadcast=1, axis=1, name="conv1_bias_add"),
    N("BatchNormalization", ["c1b", "bn1_s", "bn1_b", "bn1_m", "bn1_v"], ["b1"], is_test=1, epsilon=1e-5, name="bn1"),
    N("Relu", ["b1"], ["r1"], name="relu1"),
    N("LRN", ["r1"], ["n1"], size=3, alpha=5e-2, beta=0.75, bias=2.0, name="norm1"),
    N("AveragePool", ["n1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2], name="pool1"),
    N("Conv", ["p1", "conv2_w", "conv2_b"], ["c2"], kernel_shape=[3, 3], name="conv2"),
    N("Relu", ["c2"], ["r2"], name="relu2"),
    N("GlobalMaxPool", ["r2"], ["gmp"], name="gmp"),
    N("Flatten", ["gmp"], ["f"], name="flatten"),
    N("Gemm", ["f", "fc_w", "fc_b"], ["g"], transB=1, broadcast=1, name="fc"),
    N("Softmax", ["g"], ["prob"], name="prob"),
]
write("caffe2_op6", nodes, P, 6, 10)
with torch.no_grad():
    y = F.conv2d(xt, T(P["conv1_w"]), padding=1) + T(P["conv1_bias"]).view(1, 8, 1, 1)
    y = F.relu(bn(y, P, "bn1"))
    y = F.avg_pool2d(lrn(y, 3, 5e-2, 0.75, 2.0), 2, 2)
    y = F.relu(F.conv2d(y, T(P["conv2_w"]), T(P["conv2_b"])))
    feat = y.amax((2, 3))
    prob = torch.softmax(F.linear(feat, T(P["fc_w"]), T(P["fc_b"])), 1)
save("caffe2_op6_features", feat.numpy())
save("caffe2_op6_logits", prob.numpy())
print("wrote", OUT)
