#!/usr/bin/python3
"""Fixtures for the nn engine, computed with PyTorch (Debian python3-torch 1.13) as the
independent implementation: for each case the inputs, the output, a random upstream
gradient dy and the gradients of sum(y * dy) with respect to every input.

Writes tests/ref/nn/<case>_*.npy and tests/ref/nn/manifest.json, which tells
tests/unit/test_nn_ops.c how to build the single-op graph (ONNX op name, attributes,
which inputs are parameters). Run: /usr/bin/python3 tests/ref/gen_nn.py
"""
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

torch.manual_seed(0)
np.random.seed(0)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "nn")
os.makedirs(OUT, exist_ok=True)
cases = []


def save(name, arr):
    np.save(os.path.join(OUT, name + ".npy"), np.ascontiguousarray(arr, dtype=np.float32))
    return name + ".npy"


def case(name, op, attrs, inputs, fn, params=(), grads=True, extra=None, scale=1.0):
    """inputs: list of numpy arrays; params: indices that are parameters (initializers)."""
    # round to float32 first: the fixture must be exact for what the C side reads
    inputs = [np.asarray(a, dtype=np.float32).astype(np.float64) for a in inputs]
    ts = [torch.tensor(a, dtype=torch.float64, requires_grad=grads) for a in inputs]
    y = fn(*ts)
    ent = {"name": name, "op": op, "attrs": attrs, "inputs": [], "params": list(params)}
    for i, a in enumerate(inputs):
        ent["inputs"].append(save("%s_in%d" % (name, i), a))
    ent["out"] = save(name + "_out", y.detach().numpy())
    if grads:
        dy = np.random.randn(*y.shape)
        (y * torch.tensor(dy)).sum().backward()
        ent["dy"] = save(name + "_dy", dy)
        ent["grads"] = [save("%s_d%d" % (name, i), t.grad.numpy()) if t.grad is not None else None
                        for i, t in enumerate(ts)]
    if extra:
        for k, v in extra(ts).items():
            ent[k] = save(name + "_" + k, v)
    cases.append(ent)


def rn(*s, sc=1.0):
    return np.random.randn(*s) * sc


# ---- convolution ----
def conv(x, w, b=None, stride=1, pad=0, dil=1, groups=1):
    return F.conv2d(x, w, b, stride=stride, padding=pad, dilation=dil, groups=groups)


def cattrs(k, stride=1, pads=(0, 0, 0, 0), dil=1, group=1):
    return {"kernel": [k, k], "stride": [stride, stride], "pads": list(pads), "dilation": [dil, dil], "group": group}


case("conv_basic", "Conv", cattrs(3, 1, (1, 1, 1, 1)), [rn(2, 3, 7, 7), rn(4, 3, 3, 3, sc=0.3), rn(4)],
     lambda x, w, b: conv(x, w, b, 1, 1), params=(1, 2))
case("conv_strided", "Conv", cattrs(3, 2, (1, 1, 1, 1)), [rn(2, 4, 9, 8), rn(6, 4, 3, 3, sc=0.3)],
     lambda x, w: conv(x, w, None, 2, 1), params=(1,))
case("conv_dilated", "Conv", cattrs(3, 1, (2, 2, 2, 2), dil=2), [rn(2, 3, 9, 9), rn(4, 3, 3, 3, sc=0.3), rn(4)],
     lambda x, w, b: conv(x, w, b, 1, 2, 2), params=(1, 2))
case("conv_grouped", "Conv", cattrs(3, 1, (1, 1, 1, 1), group=2), [rn(2, 6, 7, 7), rn(8, 3, 3, 3, sc=0.3), rn(8)],
     lambda x, w, b: conv(x, w, b, 1, 1, 1, 2), params=(1, 2))
case("conv_depthwise", "Conv", cattrs(3, 2, (1, 1, 1, 1), group=5), [rn(2, 5, 8, 8), rn(5, 1, 3, 3, sc=0.3), rn(5)],
     lambda x, w, b: conv(x, w, b, 2, 1, 1, 5), params=(1, 2))
case("conv_depthwise_s1", "Conv", cattrs(3, 1, (1, 1, 1, 1), group=4), [rn(2, 4, 6, 7), rn(4, 1, 3, 3, sc=0.3)],
     lambda x, w: conv(x, w, None, 1, 1, 1, 4), params=(1,))
case("conv_pointwise", "Conv", cattrs(1), [rn(3, 6, 5, 5), rn(4, 6, 1, 1, sc=0.3), rn(4)],
     lambda x, w, b: conv(x, w, b), params=(1, 2))
case("conv_big_plane", "Conv", cattrs(3, 1, (1, 1, 1, 1)), [rn(2, 2, 34, 34), rn(3, 2, 3, 3, sc=0.3), rn(3)],
     lambda x, w, b: conv(x, w, b, 1, 1), params=(1, 2))
case("conv_big_pointwise", "Conv", cattrs(1), [rn(2, 4, 33, 33), rn(3, 4, 1, 1, sc=0.3)],
     lambda x, w: conv(x, w), params=(1,))
case("conv_5x5_s2_asym", "Conv", cattrs(5, 2, (1, 0, 2, 1)), [rn(2, 3, 11, 10), rn(4, 3, 5, 5, sc=0.2)],
     lambda x, w: conv(F.pad(x, (0, 1, 1, 2)), w, None, 2, 0), params=(1,))

# ---- normalisation ----
def bn_running(ts):
    """running statistics after one training step (PyTorch momentum 0.1 = ONNX 0.9)"""
    m, v = ts[3].detach().clone(), ts[4].detach().clone()
    F.batch_norm(ts[0].detach(), m, v, None, None, True, 0.1, 1e-5)
    return {"rmean": m.numpy(), "rvar": v.numpy()}


C = 3
case("bn_train", "BatchNormalization", {"eps": 1e-5, "momentum": 0.9, "train": 1},
     [rn(4, C, 5, 5, sc=2.0) + 1.0, rn(C) * 0.5 + 1.0, rn(C), rn(C) * 0.1, np.abs(rn(C)) + 0.5],
     lambda x, g, b, m, v: F.batch_norm(x, m.detach().clone(), v.detach().clone(), g, b, True, 0.1, 1e-5),
     params=(1, 2, 3, 4), extra=bn_running)
case("bn_infer", "BatchNormalization", {"eps": 1e-3, "momentum": 0.9},
     [rn(3, C, 4, 4), rn(C) * 0.5 + 1.0, rn(C), rn(C) * 0.1, np.abs(rn(C)) + 0.5],
     lambda x, g, b, m, v: F.batch_norm(x, m, v, g, b, False, 0.1, 1e-3), params=(1, 2, 3, 4), grads=False)
case("groupnorm", "GroupNormalization", {"num_groups": 3, "eps": 1e-5},
     [rn(2, 6, 4, 4, sc=1.5) + 0.5, rn(6) * 0.5 + 1.0, rn(6)],
     lambda x, g, b: F.group_norm(x, 3, g, b, 1e-5), params=(1, 2))
case("instancenorm", "InstanceNormalization", {"eps": 1e-5},
     [rn(2, 3, 4, 5, sc=1.5) - 0.5, rn(3) * 0.5 + 1.0, rn(3)],
     lambda x, g, b: F.instance_norm(x, weight=g, bias=b, eps=1e-5), params=(1, 2))

# ---- activations ----
xa = rn(2, 3, 4, 5, sc=3.0)
case("relu", "Relu", {}, [xa], F.relu)
case("relu6", "Clip", {"min": 0.0, "max": 6.0}, [xa * 2], F.relu6)
case("sigmoid", "Sigmoid", {}, [xa], torch.sigmoid)
case("gelu_exact", "Gelu", {}, [xa], lambda x: F.gelu(x))
case("gelu_tanh", "Gelu", {"gelu_tanh": 1}, [xa], lambda x: F.gelu(x, approximate="tanh"))

# ---- elementwise with broadcasting ----
case("add_same", "Add", {}, [rn(2, 3, 4, 5), rn(2, 3, 4, 5)], lambda a, b: a + b)
case("add_bcast_act", "Add", {}, [rn(2, 3, 4, 5), rn(2, 3, 1, 1)], lambda a, b: a + b)
case("add_bcast_param", "Add", {}, [rn(2, 3, 4, 5), rn(3, 1, 5)], lambda a, b: a + b, params=(1,))
case("mul_se", "Mul", {}, [rn(2, 3, 4, 5), rn(2, 3, 1, 1)], lambda a, b: a * b)
case("mul_bcast_param", "Mul", {}, [rn(1, 3, 1, 5), rn(2, 3, 4, 5)], lambda a, b: a * b, params=(0,))
case("mul_same", "Mul", {}, [rn(2, 3, 4, 5), rn(2, 3, 4, 5)], lambda a, b: a * b)

# ---- pooling ----
def pattrs(k, s, pads, ceil=0, dil=1, cip=0):
    return {"kernel": [k, k], "stride": [s, s], "pads": list(pads), "ceil_mode": ceil, "dilation": [dil, dil],
            "count_include_pad": cip}


xp = rn(2, 3, 8, 8)
case("maxpool_k3s2p1", "MaxPool", pattrs(3, 2, (1, 1, 1, 1)), [xp], lambda x: F.max_pool2d(x, 3, 2, 1))
case("maxpool_ceil", "MaxPool", pattrs(3, 2, (0, 0, 0, 0), ceil=1), [xp], lambda x: F.max_pool2d(x, 3, 2, 0, ceil_mode=True))
case("maxpool_dil", "MaxPool", pattrs(2, 1, (0, 0, 0, 0), dil=2), [xp], lambda x: F.max_pool2d(x, 2, 1, 0, dilation=2))
case("maxpool_2x2", "MaxPool", pattrs(2, 2, (0, 0, 0, 0)), [rn(2, 3, 7, 7)], lambda x: F.max_pool2d(x, 2, 2))
case("avgpool_pad_incl", "AveragePool", pattrs(3, 2, (1, 1, 1, 1), cip=1), [xp],
     lambda x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=True))
case("avgpool_pad_excl", "AveragePool", pattrs(3, 2, (1, 1, 1, 1), cip=0), [xp],
     lambda x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=False))
case("avgpool_ceil", "AveragePool", pattrs(3, 2, (1, 1, 1, 1), ceil=1, cip=1), [rn(2, 3, 9, 9)],
     lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=True))
case("avgpool_ceil_excl", "AveragePool", pattrs(2, 2, (0, 0, 0, 0), ceil=1, cip=0), [rn(2, 3, 7, 7)],
     lambda x: F.avg_pool2d(x, 2, 2, 0, ceil_mode=True, count_include_pad=False))
case("gap", "GlobalAveragePool", {}, [rn(2, 3, 5, 4)], lambda x: x.mean(dim=(2, 3), keepdim=True))

# ---- fully connected ----
case("gemm_transB", "Gemm", {"transB": 1}, [rn(4, 7), rn(5, 7, sc=0.4), rn(5)], lambda a, w, b: F.linear(a, w, b),
     params=(1, 2))
case("gemm_alpha_beta", "Gemm", {"alpha": 0.5, "beta": 2.0}, [rn(4, 7), rn(7, 5, sc=0.4), rn(1, 5)],
     lambda a, w, c: 0.5 * a @ w + 2.0 * c, params=(1, 2))
case("matmul", "MatMul", {}, [rn(2, 3, 7), rn(7, 4)], lambda a, w: a @ w, params=(1,))

# ---- softmax ----
case("softmax_axis1", "Softmax", {"axis": 1}, [rn(3, 5, sc=2.0)], lambda x: F.softmax(x, 1))
case("softmax_mid", "Softmax", {"axis": 1}, [rn(2, 3, 4, sc=2.0)], lambda x: F.softmax(x, 1))
case("softmax_last", "Softmax", {"axis": -1}, [rn(2, 3, 4, sc=2.0)], lambda x: F.softmax(x, -1))

# ---- data movement ----
case("concat", "Concat", {"axis": 1}, [rn(2, 3, 4, 4), rn(2, 2, 4, 4)], lambda a, b: torch.cat([a, b], 1))
case("flatten", "Flatten", {"axis": 1}, [rn(2, 3, 2, 2)], lambda x: torch.flatten(x, 1))
case("reshape", "Reshape", {"shape": [0, 4, -1]}, [rn(2, 3, 2, 2)], lambda x: x.reshape(2, 4, 3))
case("transpose", "Transpose", {"perm": [0, 2, 3, 1]}, [rn(2, 3, 4, 5)], lambda x: x.permute(0, 2, 3, 1))
for mode, tm, mi in (("constant", "constant", 0), ("reflect", "reflect", 1), ("edge", "replicate", 2)):
    # ONNX pads: begins (n, c, h, w) then ends; torch F.pad: (w_l, w_r, h_t, h_b)
    case("pad_" + mode, "Pad", {"pad_amounts": [0, 0, 1, 2, 0, 0, 2, 1], "pad_mode": mi, "pad_value": 0.5 if mi == 0 else 0.0},
         [rn(2, 3, 4, 5)],
         (lambda tm: (lambda x: F.pad(x, (2, 1, 1, 2), mode=tm, value=0.5) if tm == "constant" else F.pad(x, (2, 1, 1, 2), mode=tm)))(tm))
case("identity", "Identity", {}, [rn(2, 3)], lambda x: x.clone())
case("dropout_infer", "Dropout", {"ratio": 0.3}, [rn(2, 3)], lambda x: x.clone())

# ---- loss ----
logits = rn(5, 7, sc=2.0)
labels = np.array([0, 3, 6, 2, 3])
tl = torch.tensor(logits, requires_grad=True)
loss = F.cross_entropy(tl, torch.tensor(labels))
loss.backward()
np.save(os.path.join(OUT, "xent_logits.npy"), logits.astype(np.float32))
np.save(os.path.join(OUT, "xent_labels.npy"), labels.astype(np.int32))
np.save(os.path.join(OUT, "xent_loss.npy"), np.array([loss.item()], dtype=np.float64))
np.save(os.path.join(OUT, "xent_grad.npy"), tl.grad.numpy().astype(np.float32))

# ---- optimizers: torch.optim on one parameter for 4 steps of given gradients ----
def optim_case(name, make):
    w0 = np.random.randn(1, 6).astype(np.float32)
    grads = np.random.randn(4, 1, 6).astype(np.float32)
    p = torch.nn.Parameter(torch.tensor(w0, dtype=torch.float64))
    opt = make([p])
    for g in grads:
        p.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
    np.save(os.path.join(OUT, "optim_%s_w0.npy" % name), w0)
    np.save(os.path.join(OUT, "optim_%s_grads.npy" % name), grads)
    np.save(os.path.join(OUT, "optim_%s_w.npy" % name), p.detach().numpy().astype(np.float32))


optim_case("sgd", lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, weight_decay=0.01))
optim_case("sgd_nesterov", lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, weight_decay=0.01, nesterov=True))
optim_case("adamw", lambda ps: torch.optim.AdamW(ps, lr=0.01, betas=(0.9, 0.99), eps=1e-6, weight_decay=0.1))

# ---- operators of older and classic CNNs (LRN, PRelu, smooth activations, LogSoftmax,
# reductions, ConvTranspose). Placed after the cases above so their random draws, and
# so their fixtures, stay as they were. ----
xs = rn(2, 3, 4, 5, sc=1.5)
case("tanh", "Tanh", {}, [xs], torch.tanh)
case("elu", "Elu", {"alpha": 0.7}, [xs], lambda x: F.elu(x, 0.7))
case("celu", "Celu", {"alpha": 1.3}, [xs], lambda x: F.celu(x, 1.3))
case("selu", "Selu", {"alpha": 1.6732632423543772, "beta": 1.0507009873554805}, [xs], F.selu)
case("erf", "Erf", {}, [xs], torch.erf)
case("prelu_one", "PRelu", {}, [xs, np.array([0.25])], lambda x, s: F.prelu(x, s), params=(1,))
case("prelu_channel", "PRelu", {}, [xs, rn(3, sc=0.5)], lambda x, s: F.prelu(x, s), params=(1,))


def lrn_onnx(x, size, alpha, beta, bias):
    """ONNX LRN written out (PyTorch's local_response_norm centres even windows the other way)."""
    C = x.shape[1]
    lo, hi = (size - 1) // 2, size // 2
    sq = x * x
    s = torch.stack([sq[:, max(0, c - lo):min(C, c + hi + 1)].sum(1) for c in range(C)], 1)
    return x / (bias + alpha / size * s) ** beta


case("lrn_odd", "LRN", {"size": 3, "alpha": 0.5, "beta": 0.75, "bias": 2.0}, [rn(2, 6, 3, 4)],
     lambda x: lrn_onnx(x, 3, 0.5, 0.75, 2.0))
case("lrn_even", "LRN", {"size": 4, "alpha": 0.8, "beta": 0.6, "bias": 1.5}, [rn(2, 5, 3, 3)],
     lambda x: lrn_onnx(x, 4, 0.8, 0.6, 1.5))
case("lrn_torch", "LRN", {"size": 5, "alpha": 1e-2, "beta": 0.75, "bias": 1.0}, [rn(2, 7, 3, 3, sc=2.0)],
     lambda x: F.local_response_norm(x, 5, 1e-2, 0.75, 1.0))
case("logsoftmax_axis1", "LogSoftmax", {"axis": 1}, [rn(3, 5, sc=2.0)], lambda x: F.log_softmax(x, 1))
case("logsoftmax_mid", "LogSoftmax", {"axis": 1}, [rn(2, 3, 4, sc=2.0)], lambda x: F.log_softmax(x, 1))
case("reducemean_h", "ReduceMean", {"axes_mask": 4, "keepdims": 0}, [xs], lambda x: x.mean(2))
case("reducemean_cw", "ReduceMean", {"axes_mask": 10, "keepdims": 1}, [xs], lambda x: x.mean((1, 3), keepdim=True))
case("reducesum_hw", "ReduceSum", {"axes_mask": 12, "keepdims": 0}, [xs], lambda x: x.sum((2, 3)))
case("reducesum_c", "ReduceSum", {"axes_mask": 2, "keepdims": 1}, [xs], lambda x: x.sum(1, keepdim=True))


def ctattrs(k, stride=(1, 1), pads=(0, 0, 0, 0), dil=(1, 1), group=1, out_pad=(0, 0)):
    return {"kernel": [k, k], "stride": list(stride), "pads": list(pads), "dilation": list(dil), "group": group,
            "out_pad": list(out_pad)}


case("convtranspose_basic", "ConvTranspose", ctattrs(3, pads=(1, 1, 1, 1)), [rn(2, 3, 5, 4), rn(3, 4, 3, 3, sc=0.3), rn(4)],
     lambda x, w, b: F.conv_transpose2d(x, w, b, padding=1), params=(1, 2))
case("convtranspose_strided", "ConvTranspose", ctattrs(3, (3, 2), (1, 1, 1, 1), out_pad=(1, 1)),
     [rn(2, 3, 4, 3), rn(3, 2, 3, 3, sc=0.3), rn(2)],
     lambda x, w, b: F.conv_transpose2d(x, w, b, stride=(3, 2), padding=1, output_padding=(1, 1)), params=(1, 2))
case("convtranspose_grouped_dilated", "ConvTranspose", ctattrs(2, (2, 2), dil=(2, 2), group=2),
     [rn(2, 4, 3, 3), rn(4, 3, 2, 2, sc=0.3)],
     lambda x, w: F.conv_transpose2d(x, w, None, stride=2, dilation=2, groups=2), params=(1,))
# asymmetric pads crop the full output: top 1, left 0, bottom 0, right 2
case("convtranspose_asym", "ConvTranspose", ctattrs(3, (2, 2), (1, 0, 0, 2)), [rn(2, 2, 3, 4), rn(2, 3, 3, 3, sc=0.3), rn(3)],
     lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2)[:, :, 1:, :-2], params=(1, 2))

with open(os.path.join(OUT, "manifest.json"), "w") as f:
    json.dump(cases, f, indent=1)
print("wrote %d cases to %s" % (len(cases), OUT))
