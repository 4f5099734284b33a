#!/usr/bin/python3
"""Writes the ONNX fixtures under tests/ref/onnx/ (run: /usr/bin/python3 tests/ref/gen_onnx.py).

Debian's python3-torch 1.13 / torchvision 0.14 export the models, python3-onnx 1.12
builds the hand-made graphs and the bad files. PyTorch is the independent oracle: for every
model the script stores the input batch X, the features (input of the last nn.Linear,
captured with a forward hook) and the logits, computed by PyTorch in float64 (the same
float32 weights and inputs) and rounded once to float32.

Keeping the fixtures small (< 25 MB for the whole directory) with real architectures:
  * every weight tensor is a random base of 509 values (a prime, so filters differ)
    drawn from {-1.5, -0.5, 0.5, 1.5} * He scale, tiled over the tensor: deflate finds the
    2 KB period and compresses ~100x;
  * vgg11_bn's classifier Linear layers (25088x4096, 4096x4096, 4096x1000) are
    structured-sparse: each output row has 16 (64 for the last) non-zeros at strided
    positions, the rest zeros;
  * BatchNorm running statistics are calibrated on a batch (train-mode pass with
    momentum 1) so activations stay O(1) through 121 layers (densenet) - non-degenerate;
  * efficientnet_b0 (SiLU, squeeze-excitation) is exported too;
  * models are stored gzipped (.onnx.gz); the C tests inflate them with zlib into XF_TMP.
Inputs are 32x32 (batch 2) except vgg11_bn: torch 1.13 cannot export its
AdaptiveAvgPool2d((7,7)) unless the feature map is a multiple of 7, so it runs at 224x224.
"""
import gzip
import io
import os
import sys

import numpy as np
import onnx
import torch
import torchvision
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "onnx")
os.makedirs(os.path.join(OUT, "bad"), exist_ok=True)
os.makedirs(os.path.join(OUT, "ext"), exist_ok=True)
torch.set_num_threads(2)
RNG = np.random.default_rng(20261122)
LEVELS = np.array([-1.5, -0.5, 0.5, 1.5], dtype=np.float32)


def tiled(shape, scale):
    n = int(np.prod(shape))
    base = RNG.choice(LEVELS, size=509).astype(np.float32) * np.float32(scale)
    return np.resize(base, n).reshape(shape)


def sparse_rows(out_f, in_f, nnz, scale):
    w = np.zeros((out_f, in_f), dtype=np.float32)
    base = RNG.choice(LEVELS, size=509).astype(np.float32) * np.float32(scale)
    step = in_f // nnz
    o = np.arange(out_f)[:, None]
    k = np.arange(nnz)[None, :]
    cols = (o * 7 + k * step) % in_f
    w[np.broadcast_to(o, cols.shape), cols] = base[(o * 3 + k) % 509]
    return w


def init_weights(model, sparse_linear=False):
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, torch.nn.Conv2d):
                fan_in = mod.weight[0].numel()
                mod.weight.copy_(torch.from_numpy(tiled(tuple(mod.weight.shape), np.sqrt(2.0 / fan_in))))
                if mod.bias is not None:
                    mod.bias.copy_(torch.from_numpy(tiled(tuple(mod.bias.shape), 0.1)))
            elif isinstance(mod, torch.nn.Linear):
                o, i = mod.weight.shape
                if sparse_linear and o * i > 4_000_000:
                    nnz = 16 if i > 4096 or o == 4096 else 64
                    w = sparse_rows(o, i, nnz, np.sqrt(2.0 / nnz))
                else:
                    w = tiled((o, i), np.sqrt(1.0 / i))
                mod.weight.copy_(torch.from_numpy(w))
                if mod.bias is not None:
                    mod.bias.copy_(torch.from_numpy(tiled(tuple(mod.bias.shape), 0.1)))
            elif isinstance(mod, (torch.nn.BatchNorm2d, torch.nn.GroupNorm)):
                if mod.weight is not None:
                    mod.weight.copy_(torch.from_numpy(1.0 + 0.2 * tiled(tuple(mod.weight.shape), 1.0)))
                    mod.bias.copy_(torch.from_numpy(tiled(tuple(mod.bias.shape), 0.1)))


def tame(model):
    """Squeeze-excitation nets amplify random weights: zero the conv biases, halve the BN
    scales and shrink the Linear layers, so activations stay O(1) and torch's own float32
    error stays near 1e-5 (it reached 1e-4 otherwise)."""
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, torch.nn.Conv2d) and mod.bias is not None:
                mod.bias.zero_()
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.weight.mul_(0.5)
            if isinstance(mod, torch.nn.Linear):
                mod.weight.mul_(0.1)


def calibrate_bn(model, x):
    """Running stats := statistics of one batch, so eval-mode BN normalises."""
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for m in bns:
        m.momentum = 1.0
    model.train()
    with torch.no_grad():
        model(x)
    model.eval()
    for m in bns:
        m.momentum = 0.1


def images(n, hw, seed):
    """Blocky 8-bit images, normalised like ImageNet: realistic range, compressible."""
    r = np.random.default_rng(seed)
    small = r.integers(0, 256, size=(n, 3, hw // 8, hw // 8)).astype(np.float32)
    img = np.repeat(np.repeat(small, 8, axis=2), 8, axis=3) / 255.0
    img += r.integers(0, 4, size=img.shape).astype(np.float32) / 255.0
    mean = np.array([0.485, 0.456, 0.406], np.float32)[None, :, None, None]
    std = np.array([0.229, 0.224, 0.225], np.float32)[None, :, None, None]
    return ((img - mean) / std).astype(np.float32)


def last_linear(model):
    lin = None
    for m in model.modules():
        if isinstance(m, torch.nn.Linear):
            lin = m
    return lin


def save_npy(name, a, gz=False):
    a = np.ascontiguousarray(a, dtype=np.float32)
    if gz:
        buf = io.BytesIO()
        np.save(buf, a)
        with gzip.GzipFile(os.path.join(OUT, name + ".gz"), "wb", compresslevel=9, mtime=0) as f:
            f.write(buf.getvalue())
    else:
        np.save(os.path.join(OUT, name), a)


def export(name, model, x, opset=13, gz=True, dynamic=True, calib=None):
    model.eval()
    if calib is not None:
        calibrate_bn(model, calib)
    feats = {}
    h = last_linear(model).register_forward_hook(lambda m, i, o: feats.__setitem__("f", i[0].detach().clone()))
    with torch.no_grad():
        logits = model(x)
    h.remove()
    # The references are computed in float64 (the same weights and input, exactly
    # representable) and rounded to float32 once: the test then measures xfer's own float32
    # error, not the sum of two roundings. torch's float32 error is printed for scale.
    m64 = __import__("copy").deepcopy(model).double()
    f64 = {}
    h = last_linear(m64).register_forward_hook(lambda m, i, o: f64.__setitem__("f", i[0].detach().clone()))
    with torch.no_grad():
        logits64 = m64(x.double())
    h.remove()
    noise = float((logits.double() - logits64).abs().max() / logits64.abs().max())
    noise_f = float((feats["f"].double() - f64["f"]).abs().max() / f64["f"].abs().max())
    buf = io.BytesIO()
    kw = dict(dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}}) if dynamic else {}
    torch.onnx.export(model, x, buf, opset_version=opset, input_names=["input"], output_names=["logits"],
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=True, **kw)
    data = buf.getvalue()
    onnx.checker.check_model(onnx.load_from_string(data))
    if gz:
        with gzip.GzipFile(os.path.join(OUT, name + ".onnx.gz"), "wb", compresslevel=9, mtime=0) as f:
            f.write(data)
    else:
        with open(os.path.join(OUT, name + ".onnx"), "wb") as f:
            f.write(data)
    save_npy(name + "_features.npy", f64["f"].reshape(x.shape[0], -1).numpy())
    save_npy(name + "_logits.npy", logits64.numpy())
    f = feats["f"].numpy()
    print(f"{name}: {len(data) / 1e6:.1f} MB onnx, features {f.shape} std {f.std():.3g}, "
          f"logits std {logits.std():.3g}; torch float32 vs float64: features {noise_f:.1e}, "
          f"logits {noise:.1e}", file=sys.stderr)


class SmallCNN(torch.nn.Module):
    """Exercises GroupNorm (exported as the opset<18 pattern), SiLU (Sigmoid*Mul),
    ReLU6 (Clip), BatchNorm, max/avg pooling, a Concat, x.view(x.size(0), -1)
    (Shape/Gather/Unsqueeze/Concat/Reshape) and a two-Linear head with Dropout."""

    def __init__(self):
        super().__init__()
        self.c1 = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.gn = torch.nn.GroupNorm(4, 8)
        self.c2 = torch.nn.Conv2d(8, 16, 3, stride=2, padding=1, bias=False)
        self.bn = torch.nn.BatchNorm2d(16)
        self.c3 = torch.nn.Conv2d(16, 8, 1)
        self.c4 = torch.nn.Conv2d(16, 8, 3, padding=2, dilation=2, groups=2)
        self.fc1 = torch.nn.Linear(16 * 4 * 4, 32)
        self.drop = torch.nn.Dropout(0.3)
        self.fc2 = torch.nn.Linear(32, 10)

    def forward(self, x):
        x = torch.nn.functional.silu(self.gn(self.c1(x)))
        x = torch.nn.functional.max_pool2d(x, 2)                 # 16x16
        x = torch.nn.functional.relu6(self.bn(self.c2(x)))       # 8x8
        x = torch.cat([self.c3(x), self.c4(x)], 1)               # 16 ch
        x = torch.nn.functional.avg_pool2d(x, 2)                 # 4x4
        x = x.view(x.size(0), -1)
        return self.fc2(self.drop(torch.relu(self.fc1(x))))


class GeluCNN(torch.nn.Module):
    """GELU (exported by torch 1.13 as Div -> Erf -> Add -> Mul -> Mul) in a tiny CNN."""

    def __init__(self):
        super().__init__()
        self.c1 = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(8)
        self.c2 = torch.nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.fc = torch.nn.Linear(16, 10)

    def forward(self, x):
        x = torch.nn.functional.gelu(self.bn(self.c1(x)))
        x = torch.nn.functional.gelu(self.c2(x))
        return self.fc(torch.flatten(torch.nn.functional.adaptive_avg_pool2d(x, 1), 1))


def small_cnn():
    torch.manual_seed(1)
    m = SmallCNN()
    init_weights(m)
    return m


# ---- hand-made graphs (onnx.helper): opset-specific forms the exporter does not write ----

def f32(name, a):
    return numpy_helper.from_array(np.asarray(a, dtype=np.float32), name)


def i64(name, a):
    return numpy_helper.from_array(np.asarray(a, dtype=np.int64), name)


def model_of(nodes, inits, in_shape, out_name, opset, out_shape=None):
    g = helper.make_graph(nodes, "hand", [helper.make_tensor_value_info("input", TensorProto.FLOAT, in_shape)],
                          [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, out_shape)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="gen_onnx.py")
    m.ir_version = 8
    return m


def write_model(m, path):
    with open(os.path.join(OUT, path), "wb") as f:
        f.write(m.SerializeToString())


def hand_models():
    r = np.random.default_rng(7)
    x = r.standard_normal((2, 4, 6, 6)).astype(np.float32)
    save_npy("hand_input.npy", x)
    xt = torch.from_numpy(x)

    # opset 18: GroupNormalization (per-group scale), Pad with pads/value inputs, Conv with
    # float16 weights, double bias, Clip with min only (opset 11+ inputs), Softmax(axis=1)
    # opset-13 semantics, ReduceMean(axes input) -> Flatten, Sub/Div by constants, MatMul head
    gs = np.array([1.5, 0.5], np.float32)
    gb = np.array([0.1, -0.2], np.float32)
    w = (r.standard_normal((3, 4, 3, 3)) * 0.3).astype(np.float16)
    b = r.standard_normal(3).astype(np.float64)
    mm = r.standard_normal((3, 5)).astype(np.float32)
    nodes = [
        helper.make_node("GroupNormalization", ["input", "gs", "gb"], ["gn"], num_groups=2, epsilon=1e-5, name="gn0"),
        helper.make_node("Pad", ["gn", "pads", "pv"], ["pad"], mode="constant", name="pad0"),
        helper.make_node("Conv", ["pad", "w", "b"], ["conv"], kernel_shape=[3, 3], strides=[2, 2], name="conv0"),
        helper.make_node("Clip", ["conv", "cmin"], ["clip"], name="clip0"),
        helper.make_node("Sub", ["clip", "c_sub"], ["sub"], name="sub0"),
        helper.make_node("Div", ["sub", "c_div"], ["div"], name="div0"),
        helper.make_node("Softmax", ["div"], ["sm"], axis=1, name="sm0"),
        helper.make_node("ReduceMean", ["sm", "axes"], ["rm"], keepdims=0, name="rm0"),
        helper.make_node("MatMul", ["rm", "mm"], ["logits"], name="mm0"),
    ]
    inits = [f32("gs", gs), f32("gb", gb), i64("pads", [0, 0, 1, 2, 0, 0, 1, 0]), f32("pv", 0.25),
             numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b"), f32("cmin", -0.5),
             f32("c_sub", 0.1), f32("c_div", 2.0), i64("axes", [2, 3]), f32("mm", mm)]
    write_model(model_of(nodes, inits, ["N", 4, 6, 6], "logits", 18), "hand_opset18.onnx")
    with torch.no_grad():
        F = torch.nn.functional
        gsc = torch.from_numpy(np.repeat(gs, 2))
        gbc = torch.from_numpy(np.repeat(gb, 2))
        y = F.group_norm(xt, 2, gsc, gbc, 1e-5)
        y = F.pad(y, (2, 0, 1, 1), value=0.25)
        y = F.conv2d(y, torch.from_numpy(w.astype(np.float32)), torch.from_numpy(b.astype(np.float32)), stride=2)
        y = torch.clamp(y, min=-0.5)
        y = (y - 0.1) / 2.0
        y = torch.softmax(y, 1)
        feat = y.mean((2, 3))
        logits = feat @ torch.from_numpy(mm)
    save_npy("hand_opset18_features.npy", feat.numpy())
    save_npy("hand_opset18_logits.npy", logits.numpy())

    # opset 11: Softmax with the 2-D coercion (axis 1 over C*H*W), typed float_data and
    # int64_data initializers, Unsqueeze/Squeeze with attribute axes on shape arithmetic,
    # Clip(0, 6) from inputs, Flatten, Gemm with transB=0, Dropout, Identity
    w1 = (r.standard_normal((2, 4, 1, 1)) * 0.5).astype(np.float32)
    gw = (r.standard_normal((2 * 6 * 6, 3)) * 0.2).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["input", "w1"], ["c"], name="conv1"),
        helper.make_node("Clip", ["c", "lo", "hi"], ["r6"], name="relu6"),
        helper.make_node("Softmax", ["r6"], ["sm"], axis=1, name="sm_old"),
        helper.make_node("Shape", ["sm"], ["shp"], name="shape"),
        helper.make_node("Gather", ["shp", "zero"], ["n"], axis=0, name="gather"),
        helper.make_node("Unsqueeze", ["n"], ["n1"], axes=[0], name="unsq"),
        helper.make_node("Concat", ["n1", "minus1"], ["tgt"], axis=0, name="cat_shape"),
        helper.make_node("Reshape", ["sm", "tgt"], ["flat"], name="reshape"),
        helper.make_node("Identity", ["flat"], ["flat2"], name="ident"),
        helper.make_node("Dropout", ["flat2"], ["drop"], name="drop", ratio=0.2),
        helper.make_node("Gemm", ["drop", "gw"], ["logits"], name="head", alpha=1.0),
    ]
    t_w1 = helper.make_tensor("w1", TensorProto.FLOAT, w1.shape, w1.ravel().tolist())   # float_data
    t_m1 = helper.make_tensor("minus1", TensorProto.INT64, [1], [-1])                   # int64_data
    inits = [t_w1, f32("lo", 0.0), f32("hi", 6.0), helper.make_tensor("zero", TensorProto.INT64, [], [0]), t_m1,
             f32("gw", gw)]
    write_model(model_of(nodes, inits, [2, 4, 6, 6], "logits", 11), "hand_opset11.onnx")
    with torch.no_grad():
        y = torch.clamp(torch.nn.functional.conv2d(xt, torch.from_numpy(w1)), 0, 6)
        y = torch.softmax(y.reshape(2, -1), 1)
        logits = y @ torch.from_numpy(gw)
    save_npy("hand_opset11_features.npy", y.numpy())
    save_npy("hand_opset11_logits.npy", logits.numpy())

    # opset 13: shape arithmetic beyond PyTorch's view(): Shape -> Slice / Gather / Cast /
    # Squeeze / Unsqueeze(axes input) / Mul / Div / Concat -> Reshape; an NHWC round trip
    # through Transposes (the tf2onnx pattern around convs)
    wc = (r.standard_normal((4, 4, 3, 3)) * 0.3).astype(np.float32)
    wm = (r.standard_normal((72, 3)) * 0.1).astype(np.float32)
    nodes = [
        helper.make_node("Transpose", ["input"], ["nhwc"], perm=[0, 2, 3, 1], name="to_nhwc"),
        helper.make_node("Transpose", ["nhwc"], ["nchw"], perm=[0, 3, 1, 2], name="to_nchw"),
        helper.make_node("Conv", ["nchw", "wc"], ["c"], pads=[1, 1, 1, 1], name="conv_s"),
        helper.make_node("Shape", ["c"], ["s"], name="shape_s"),
        helper.make_node("Slice", ["s", "st1", "en2"], ["ch"], name="slice_c"),           # [4]
        helper.make_node("Slice", ["s", "st2", "en4", "ax0", "step1"], ["hw"], name="slice_hw"),  # [6, 6]
        helper.make_node("Gather", ["hw", "zero"], ["h"], axis=0, name="gather_h"),      # 6
        helper.make_node("Unsqueeze", ["h", "ax0"], ["h1"], name="unsq_h"),             # [6]
        helper.make_node("Mul", ["ch", "h1"], ["chh"], name="mul_shape"),               # [24]
        helper.make_node("Mul", ["chh", "h1"], ["chhw"], name="mul_shape2"),            # [144]
        helper.make_node("Div", ["chhw", "two"], ["half"], name="div_shape"),           # [72]
        helper.make_node("Gather", ["s", "zero"], ["n"], axis=0, name="gather_n"),
        helper.make_node("Unsqueeze", ["n", "ax0"], ["n1"], name="unsq_n"),
        helper.make_node("Unsqueeze", ["n1", "ax0"], ["n2"], name="unsq_n2"),
        helper.make_node("Squeeze", ["n2", "ax0"], ["n3"], name="sq_n"),
        helper.make_node("Concat", ["n3", "two", "half"], ["tgt0"], axis=0, name="cat_t"),
        helper.make_node("Cast", ["tgt0"], ["tgt"], to=TensorProto.INT64, name="cast_t"),
        helper.make_node("Reshape", ["c", "tgt"], ["r"], name="reshape_s"),            # (N, 2, 72)
        helper.make_node("MatMul", ["r", "wm"], ["logits"], name="mm_s"),              # (N, 2, 3)
    ]
    inits = [f32("wc", wc), f32("wm", wm), i64("st1", [1]), i64("en2", [2]), i64("st2", [2]), i64("en4", [4]),
             i64("ax0", [0]), i64("step1", [1]), i64("zero", 0), i64("two", [2])]
    write_model(model_of(nodes, inits, ["N", 4, 6, 6], "logits", 13), "hand_shapes.onnx")
    with torch.no_grad():
        y = torch.nn.functional.conv2d(xt, torch.from_numpy(wc), padding=1).reshape(2, 2, 72)
        logits = y @ torch.from_numpy(wm)
    save_npy("hand_shapes_logits.npy", logits.numpy())

    # external data: weights in a side file inside the directory
    we = (r.standard_normal((3, 4, 1, 1)) * 0.5).astype(np.float32)
    fc = (r.standard_normal((3 * 36, 2)) * 0.1).astype(np.float32)
    blob = b"\0" * 16 + we.tobytes() + fc.tobytes()
    with open(os.path.join(OUT, "ext", "weights.bin"), "wb") as f:
        f.write(blob)

    def ext_tensor(name, arr, loc, off):
        t = TensorProto()
        t.name = name
        t.data_type = TensorProto.FLOAT
        t.dims.extend(arr.shape)
        t.data_location = TensorProto.EXTERNAL
        for k, v in (("location", loc), ("offset", str(off)), ("length", str(arr.nbytes))):
            e = t.external_data.add()
            e.key, e.value = k, v
        return t

    def ext_model(loc, loc2=None):
        nodes = [helper.make_node("Conv", ["input", "we"], ["c"], name="conv_ext"),
                 helper.make_node("Flatten", ["c"], ["f"], name="flat"),
                 helper.make_node("MatMul", ["f", "fc"], ["logits"], name="head")]
        inits = [ext_tensor("we", we, loc, 16), ext_tensor("fc", fc, loc2 or loc, 16 + we.nbytes)]
        return model_of(nodes, inits, ["N", 4, 6, 6], "logits", 13)

    write_model(ext_model("weights.bin"), "ext/ext_ok.onnx")
    with torch.no_grad():
        y = torch.nn.functional.conv2d(xt, torch.from_numpy(we)).reshape(2, -1)
    save_npy("ext/ext_ok_logits.npy", (y @ torch.from_numpy(fc)).numpy())
    write_model(ext_model("../../onnx/ext/weights.bin"), "ext/ext_dotdot.onnx")
    write_model(ext_model("/etc/passwd"), "ext/ext_absolute.onnx")
    write_model(ext_model("weights.bin", "missing.bin"), "ext/ext_missing.onnx")
    # offset/length beyond the file
    m = ext_model("weights.bin")
    m.graph.initializer[1].external_data[1].value = str(len(blob) - 8)
    write_model(m, "ext/ext_short.onnx")
    # a symlink pointing outside the directory
    link = os.path.join(OUT, "ext", "escape.bin")
    if os.path.lexists(link):
        os.remove(link)
    os.symlink("../hand_input.npy", link)
    write_model(ext_model("escape.bin"), "ext/ext_symlink.onnx")

    # activations the engine has no op for, decomposed at import: LeakyRelu, HardSigmoid,
    # HardSwish (opset 14)
    wl = (r.standard_normal((4 * 36, 3)) * 0.2).astype(np.float32)
    nodes = [helper.make_node("LeakyRelu", ["input"], ["lr"], alpha=0.1, name="leaky"),
             helper.make_node("HardSigmoid", ["lr"], ["hs"], alpha=0.3, beta=0.4, name="hsig"),
             helper.make_node("HardSwish", ["input"], ["hw"], name="hswish"),
             helper.make_node("Add", ["hs", "hw"], ["sum"], name="add"),
             helper.make_node("Flatten", ["sum"], ["f"], name="flat"),
             helper.make_node("MatMul", ["f", "wl"], ["logits"], name="head")]
    write_model(model_of(nodes, [f32("wl", wl)], ["N", 4, 6, 6], "logits", 14), "hand_act14.onnx")
    with torch.no_grad():
        F = torch.nn.functional
        y = torch.clamp(0.3 * F.leaky_relu(xt, 0.1) + 0.4, 0, 1) + F.hardswish(xt)
        logits = y.reshape(2, -1) @ torch.from_numpy(wl)
    save_npy("hand_act14_features.npy", y.reshape(2, -1).numpy())
    save_npy("hand_act14_logits.npy", logits.numpy())


def bad_models():
    good = model_of([helper.make_node("Relu", ["input"], ["r"], name="relu0"),
                     helper.make_node("Flatten", ["r"], ["logits"], name="flat0")], [], ["N", 2, 2, 2], "logits", 13)
    data = good.SerializeToString()
    write_model(good, "bad/good_tiny.onnx")
    with open(os.path.join(OUT, "bad/truncated.onnx"), "wb") as f:
        f.write(data[: len(data) * 2 // 3])
    with open(os.path.join(OUT, "bad/garbage.onnx"), "wb") as f:
        f.write(np.random.default_rng(3).integers(0, 256, 300, dtype=np.uint8).tobytes())
    with open(os.path.join(OUT, "bad/empty.onnx"), "wb") as f:
        pass

    def one(nodes, inits, name, opset=13, shape=("N", 2, 2, 2)):
        write_model(model_of(nodes, inits, list(shape), "logits", opset), "bad/" + name)

    one([helper.make_node("LSTM", ["input"], ["logits"], name="lstm_7")], [], "unsupported_op.onnx")
    one([helper.make_node("Add", ["input", "nowhere"], ["logits"], name="add_dangling")], [], "dangling.onnx")
    one([helper.make_node("Relu", ["b"], ["a"], name="cyc_a"), helper.make_node("Relu", ["a"], ["b"], name="cyc_b"),
         helper.make_node("Add", ["input", "b"], ["logits"], name="out")], [], "cycle.onnx")
    t = f32("w", np.ones((3, 2, 1, 1)))
    t.dims[:] = [4, 2, 1, 1]  # dims say 8 floats, raw_data holds 6
    one([helper.make_node("Conv", ["input", "w"], ["logits"], name="conv_badsize")], [t], "init_wrong_size.onnx")
    t = f32("w", np.ones(4))
    t.dims[:] = [1 << 40, 1 << 40, 1 << 40]
    one([helper.make_node("Conv", ["input", "w"], ["logits"], name="conv_huge")], [t], "init_overflow.onnx")
    one([helper.make_node("Relu", ["input"], ["logits"], name="relu_new")], [], "new_opset.onnx", opset=19)
    one([helper.make_node("Conv", ["input", "w"], ["logits"], name="conv_shape")], [f32("w", np.ones((3, 5, 1, 1)))],
        "conv_channels.onnx")
    one([helper.make_node("Relu", ["input"], ["r"], name="relu0")], [], "missing_output.onnx")

    # valid ONNX that the engine cannot represent (the batch dimension must stay first and
    # separate): each a one-line UNSUPPORTED error naming the node
    one([helper.make_node("Reshape", ["input", "shape"], ["logits"], name="reshape_batch")], [i64("shape", [1, -1])],
        "reshape_batch.onnx")
    one([helper.make_node("Transpose", ["input"], ["logits"], perm=[1, 0, 2, 3], name="transpose_batch")], [],
        "transpose_batch.onnx")
    one([helper.make_node("Softmax", ["input"], ["logits"], axis=0, name="softmax_batch")], [], "softmax_batch.onnx")
    one([helper.make_node("Reshape", ["input", "shape"], ["logits"], allowzero=1, name="reshape_zero")],
        [i64("shape", [-1, 0])], "reshape_allowzero.onnx", opset=14)
    one([helper.make_node("Conv", ["input", "w"], ["logits"], name="conv1d")], [f32("w", np.ones((3, 2, 1)))],
        "conv1d.onnx", shape=("N", 2, 5))

    # the classic-CNN operators and older opsets: what stays refused, one line each
    one([helper.make_node("Flatten", ["input"], ["f"], axis=2, name="flat2"),
         helper.make_node("Relu", ["f"], ["logits"], name="after_flat2")], [], "flatten_consumer.onnx")
    one([helper.make_node("Flatten", ["input"], ["logits"], axis=0, name="flat0")], [], "flatten_axis0.onnx")
    one([helper.make_node("PRelu", ["input", "s"], ["logits"], name="prelu_hw")], [f32("s", np.ones((2, 2)))],
        "prelu_slope.onnx")
    one([helper.make_node("Upsample", ["input", "sc"], ["logits"], mode="linear", name="up_linear")],
        [f32("sc", [1, 1, 2, 2])], "upsample_linear.onnx", opset=9)
    one([helper.make_node("Upsample", ["input"], ["logits"], scales=[1.0, 1.0, 1.5, 1.5], name="up_frac")], [],
        "upsample_fraction.onnx", opset=7)
    one([helper.make_node("Add", ["a", "b"], ["c"], broadcast=1, axis=1, name="legacy_consts"),
         helper.make_node("Add", ["input", "c"], ["logits"], name="use_c")], [f32("a", np.ones((2, 2))), f32("b", [1, 2])],
        "legacy_broadcast_consts.onnx", opset=6)
    bnp = [f32(k, np.ones(2)) for k in ("s", "b", "m", "v")]
    one([helper.make_node("BatchNormalization", ["input", "s", "b", "m", "v"], ["logits"], is_test=0, name="bn_train")],
        bnp, "bn_is_test0.onnx", opset=6)
    one([helper.make_node("BatchNormalization", ["input", "s", "b", "m", "v"], ["logits"], spatial=0, name="bn_pos")],
        [f32(k, np.ones((2, 2, 2))) for k in ("s", "b", "m", "v")], "bn_spatial0.onnx", opset=7)
    one([helper.make_node("ReduceSum", ["input"], ["logits"], axes=[0], name="sum_batch")], [], "reduce_batch.onnx", opset=11)
    one([helper.make_node("ConvTranspose", ["input", "w"], ["logits"], output_shape=[4, 4], name="ct_shape")],
        [f32("w", np.ones((2, 2, 3, 3)))], "convtranspose_output_shape.onnx")
    one([helper.make_node("DepthToSpace", ["input"], ["logits"], blocksize=2, name="d2s")], [], "depthtospace_channels.onnx")
    one([helper.make_node("Celu", ["input"], ["logits"], alpha=0.0, name="celu0")], [], "celu_alpha0.onnx")
    one([helper.make_node("LRN", ["input"], ["logits"], name="lrn_nosize")], [], "lrn_size.onnx")
    one([helper.make_node("LRN", ["input"], ["logits"], size=3, name="lrn_2d")], [], "lrn_rank.onnx", shape=("N", 4))
    one([helper.make_node("Upsample", ["input"], ["logits"], name="up_v1")], [], "upsample_opset6.onnx", opset=6)
    one([helper.make_node("SpaceToDepth", ["input"], ["logits"], blocksize=3, name="s2d")], [], "spacetodepth_hw.onnx")
    one([helper.make_node("DepthToSpace", ["input"], ["logits"], blocksize=1, mode="XYZ", name="d2s_mode")], [],
        "depthtospace_mode.onnx")
    one([helper.make_node("ConvTranspose", ["input", "w"], ["logits"], auto_pad="SAME_UPPER", name="ct_auto")],
        [f32("w", np.ones((2, 2, 3, 3)))], "convtranspose_auto_pad.onnx")
    one([helper.make_node("ConvTranspose", ["input", "w"], ["logits"], output_padding=[2, 2], name="ct_outpad")],
        [f32("w", np.ones((2, 2, 3, 3)))], "convtranspose_output_padding.onnx")
    one([helper.make_node("ReduceMean", ["input"], ["logits"], name="mean_all")], [], "reduce_all.onnx", opset=11)
    one([helper.make_node("Relu", ["input"], ["r"], name="r"),
         helper.make_node("Add", ["input", "r"], ["logits"], broadcast=1, axis=1, name="legacy_acts")], [],
        "legacy_broadcast_acts.onnx", opset=6)
    one([helper.make_node("Reshape", ["input"], ["logits"], name="reshape_noshape")], [], "reshape_attr_missing.onnx",
        opset=4)
    one([helper.make_node("Relu", ["input"], ["r"], name="r"),
         helper.make_node("PRelu", ["input", "r"], ["logits"], name="prelu_act")], [], "prelu_activation_slope.onnx")
    one([helper.make_node("Shape", ["input"], ["s"], name="shape"),
         helper.make_node("Cast", ["s"], ["sf"], to="FLOAT", name="cast_v1"),
         helper.make_node("Add", ["input", "sf"], ["logits"], name="use")], [], "cast_opset5.onnx", opset=5)

    # sub-graphs nested 3000 deep (Model.graph -> Graph.node -> Node.attribute -> Attribute.g
    # -> ...): must be refused before protobuf-c's recursive unpack sees it
    def varint(v):
        out = b""
        while True:
            b = v & 0x7F
            v >>= 7
            out += bytes([b | (0x80 if v else 0)])
            if not v:
                return out

    def ld(field, payload):
        return varint(field << 3 | 2) + varint(len(payload)) + payload

    g = b""
    for _ in range(3000):
        g = ld(1, ld(5, ld(6, g)))
    with open(os.path.join(OUT, "bad/deep_nesting.onnx"), "wb") as f:
        f.write(ld(7, g))


# ---- checking models xfer exported (xf_onnx_export) ----------------------------------
# `gen_onnx.py --check-export DIR` loads every DIR/<stem>_export.onnx that test_onnx wrote
# (build/tmp), runs onnx.checker (full) and strict shape inference, then evaluates the
# graph with a small torch interpreter (independent of xfer) on the fixture's input and
# compares with PyTorch's logits from the original model: max|d| / max|ref|.

def run_torch(model, x):
    F = torch.nn.functional
    env = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in model.graph.initializer}
    env[model.graph.input[0].name] = torch.from_numpy(x)

    def pads4(a):
        p = list(a.get("pads", [0, 0, 0, 0]))
        return p

    for n in model.graph.node:
        a = {at.name: helper.get_attribute_value(at) for at in n.attribute}
        i = [env[k] if k else None for k in n.input]
        i += [None] * (5 - len(i))
        op = n.op_type
        if op == "Conv":
            p = pads4(a)
            y = F.conv2d(F.pad(i[0], (p[1], p[3], p[0], p[2])), i[1], i[2], stride=a.get("strides", [1, 1]),
                         dilation=a.get("dilations", [1, 1]), groups=a.get("group", 1))
        elif op == "BatchNormalization":
            y = F.batch_norm(i[0], i[3], i[4], i[1], i[2], False, 0.0, a.get("epsilon", 1e-5))
        elif op == "InstanceNormalization":
            y = F.instance_norm(i[0], weight=i[1], bias=i[2], eps=a.get("epsilon", 1e-5))
        elif op == "Relu":
            y = F.relu(i[0])
        elif op == "Sigmoid":
            y = torch.sigmoid(i[0])
        elif op == "Tanh":
            y = torch.tanh(i[0])
        elif op == "Erf":
            y = torch.erf(i[0])
        elif op == "Clip":
            y = torch.clamp(i[0], min=None if i[1] is None else float(i[1]), max=None if i[2] is None else float(i[2]))
        elif op in ("Add", "Mul", "Sub", "Div"):
            y = {"Add": torch.add, "Mul": torch.mul, "Sub": torch.sub, "Div": torch.div}[op](i[0], i[1])
        elif op in ("MaxPool", "AveragePool"):
            p = pads4(a)
            k, st = a["kernel_shape"], a.get("strides", [1, 1])
            if op == "MaxPool":
                xp = F.pad(i[0], (p[1], p[3], p[0], p[2]), value=float("-inf"))
                y = F.max_pool2d(xp, k, st, dilation=a.get("dilations", [1, 1]), ceil_mode=bool(a.get("ceil_mode", 0)))
            else:
                assert p[0] == p[2] and p[1] == p[3]
                y = F.avg_pool2d(i[0], k, st, padding=(p[0], p[1]), ceil_mode=bool(a.get("ceil_mode", 0)),
                                 count_include_pad=bool(a.get("count_include_pad", 0)))
        elif op == "GlobalAveragePool":
            y = i[0].mean((2, 3), keepdim=True)
        elif op == "Gemm":
            A = i[0].t() if a.get("transA", 0) else i[0]
            B = i[1].t() if a.get("transB", 0) else i[1]
            y = a.get("alpha", 1.0) * (A @ B)
            if i[2] is not None:
                y = y + a.get("beta", 1.0) * i[2]
        elif op == "MatMul":
            y = i[0] @ i[1]
        elif op == "Concat":
            y = torch.cat([t for t in i if t is not None], a["axis"])
        elif op == "Flatten":
            ax = a.get("axis", 1)
            y = i[0].reshape(int(np.prod(i[0].shape[:ax])), -1)
        elif op == "Reshape":
            tgt = [int(v) if v != 0 else i[0].shape[k] for k, v in enumerate(i[1].tolist())]
            y = i[0].reshape(tgt)
        elif op == "Shape":
            y = torch.tensor(list(i[0].shape), dtype=torch.int64)
        elif op == "Softmax":
            y = torch.softmax(i[0], a.get("axis", -1))
        elif op in ("Dropout", "Identity"):
            y = i[0]
        elif op == "Pad":
            pads = i[1].tolist()
            r = len(pads) // 2
            tp = []
            for d in reversed(range(r)):
                tp += [pads[d], pads[r + d]]
            mode = a.get("mode", b"constant")
            mode = mode.decode() if isinstance(mode, bytes) else mode
            mode = {"constant": "constant", "reflect": "reflect", "edge": "replicate"}[mode]
            y = F.pad(i[0], tp, mode=mode, value=float(i[2]) if (mode == "constant" and i[2] is not None) else 0.0)
        elif op == "Transpose":
            y = i[0].permute(a["perm"])
        elif op == "PRelu":
            y = torch.where(i[0] > 0, i[0], i[0] * i[1])
        elif op == "LRN":
            size, C = a["size"], i[0].shape[1]
            sq = i[0] * i[0]
            sm = torch.stack([sq[:, max(0, c - (size - 1) // 2):min(C, c + size // 2 + 1)].sum(1) for c in range(C)], 1)
            y = i[0] / (a.get("bias", 1.0) + a.get("alpha", 1e-4) / size * sm) ** a.get("beta", 0.75)
        elif op == "LogSoftmax":
            y = torch.log_softmax(i[0], a.get("axis", -1))
        elif op in ("ReduceMean", "ReduceSum"):
            axes = a["axes"] if op == "ReduceMean" else i[1].tolist()
            f = torch.mean if op == "ReduceMean" else torch.sum
            y = f(i[0], dim=tuple(axes), keepdim=bool(a.get("keepdims", 1)))
        elif op == "ConvTranspose":
            p = pads4(a)
            y = F.conv_transpose2d(i[0], i[1], i[2], stride=a.get("strides", [1, 1]), dilation=a.get("dilations", [1, 1]),
                                   groups=a.get("group", 1), output_padding=a.get("output_padding", [0, 0]))
            # ONNX pads crop the full output (begins top/left, ends bottom/right); output_padding
            # was added at the end before the crop
            y = y[:, :, p[0]:y.shape[2] - p[2], p[1]:y.shape[3] - p[3]]
        elif op == "Elu":
            y = F.elu(i[0], a.get("alpha", 1.0))
        elif op == "Celu":
            y = F.celu(i[0], a.get("alpha", 1.0))
        elif op == "Selu":
            y = a.get("gamma", 1.0507009873554805) * torch.where(i[0] > 0, i[0], a.get("alpha", 1.6732632423543772) * torch.expm1(i[0]))
        else:
            raise RuntimeError("check_export: no torch rule for " + op)
        env[n.output[0]] = y
    return env[model.graph.output[0].name]


def check_export(d):
    worst = 0.0
    inputs = {"hand": "hand_input.npy", "ext_ok": "hand_input.npy"}
    for fn in sorted(os.listdir(d)):
        if not fn.endswith("_export.onnx"):
            continue
        stem = fn[: -len("_export.onnx")]
        ref = os.path.join(OUT, ("ext/" if stem.startswith("ext") else "") + stem + "_logits.npy")
        if not os.path.exists(ref) and os.path.exists(os.path.join(OUT, "zoo", stem + "_logits.npy")):
            ref, inputs[stem] = os.path.join(OUT, "zoo", stem + "_logits.npy"), "zoo/input.npy"  # gen_zoo.py
        if not os.path.exists(ref):
            continue
        m = onnx.load(os.path.join(d, fn))
        onnx.checker.check_model(m, full_check=True)
        onnx.shape_inference.infer_shapes(m, check_type=True, strict_mode=True)
        inp = next((v for k, v in inputs.items() if stem.startswith(k)), "input32.npy")
        if stem.startswith("vgg"):
            with gzip.open(os.path.join(OUT, "input224.npy.gz")) as f:
                x = np.load(io.BytesIO(f.read()))
        else:
            x = np.load(os.path.join(OUT, inp))
        with torch.no_grad():
            y = run_torch(m, x).numpy()
        r = np.load(ref)
        e = float(np.abs(y - r).max() / np.abs(r).max())
        worst = max(worst, e)
        print(f"{fn}: checker ok, opset {m.opset_import[0].version}, {len(m.graph.node)} nodes, "
              f"torch-evaluated logits max|d|/max|ref| = {e:.2e}")
    if worst > 1e-4:
        sys.exit("check_export: error above 1e-4")


def old_opset_models():
    """Models at opsets 1-10 written by hand, with PyTorch's outputs: the forms of
    BatchNormalization (is_test), Add with legacy broadcast, PRelu with
    one slope per channel (opset 6), LRN, Upsample (scales attribute at 7, input at 9),
    Reshape's shape attribute and Concat's default axis (opset 3), Pad's
    'paddings' (opset 1), ConvTranspose, DepthToSpace, smooth activations, ReduceMean
    over one axis, GlobalMaxPool and a Flatten head feeding MatMul (the feature tap)."""
    r = np.random.default_rng(8)
    x = torch.from_numpy(np.load(os.path.join(OUT, "hand_input.npy")))  # (2, 4, 6, 6)
    F = torch.nn.functional
    mm = lambda n, k: (r.standard_normal((n, k)) * 0.2).astype(np.float32)
    sv = [r.standard_normal(4).astype(np.float32) for _ in range(3)] + [r.uniform(0.5, 2, 4).astype(np.float32)]

    # opset 6: BN(is_test) -> Add(bias (4), broadcast, axis 1) -> PRelu(4) -> LRN -> MaxPool -> Flatten -> MatMul
    bias, slope = r.standard_normal(4).astype(np.float32), r.uniform(0.05, 0.5, 4).astype(np.float32)
    w6 = mm(4 * 3 * 3, 3)
    nodes = [
        helper.make_node("BatchNormalization", ["input", "s", "b", "m", "v"], ["bn"], is_test=1, epsilon=1e-5, name="bn"),
        helper.make_node("Add", ["bn", "bias"], ["add"], broadcast=1, axis=1, name="add_legacy"),
        helper.make_node("PRelu", ["add", "slope"], ["pr"], name="prelu"),
        helper.make_node("LRN", ["pr"], ["lrn"], size=3, alpha=0.3, beta=0.75, bias=2.0, name="lrn"),
        helper.make_node("MaxPool", ["lrn"], ["mp"], kernel_shape=[2, 2], strides=[2, 2], name="pool"),
        helper.make_node("Flatten", ["mp"], ["flat"], name="flat"),
        helper.make_node("MatMul", ["flat", "w"], ["logits"], name="head"),
    ]
    inits = [f32(k, a) for k, a in zip(("s", "b", "m", "v"), sv)] + [f32("bias", bias), f32("slope", slope), f32("w", w6)]
    write_model(model_of(nodes, inits, ["N", 4, 6, 6], "logits", 6), "hand_opset6.onnx")
    with torch.no_grad():
        t = [torch.from_numpy(a) for a in sv]
        y = F.batch_norm(x, t[2], t[3], t[0], t[1], False, 0.1, 1e-5) + torch.from_numpy(bias).view(1, 4, 1, 1)
        y = F.prelu(y, torch.from_numpy(slope))
        sq = y * y
        s = torch.stack([sq[:, max(0, c - 1):min(4, c + 2)].sum(1) for c in range(4)], 1)
        y = y / (2.0 + 0.3 / 3 * s) ** 0.75
        feat = F.max_pool2d(y, 2, 2).flatten(1)
        logits = feat @ torch.from_numpy(w6)
    save_npy("hand_opset6_features.npy", feat.numpy())
    save_npy("hand_opset6_logits.npy", logits.numpy())

    # opset 9: Upsample(scales input) -> ConvTranspose(stride 2, output_padding 1) -> Elu -> Tanh
    # -> DepthToSpace(2) -> ReduceMean(axis 3, keepdims) -> GlobalMaxPool -> Flatten -> MatMul
    wt = (r.standard_normal((4, 8, 3, 3)) * 0.3).astype(np.float32)
    bt = r.standard_normal(8).astype(np.float32)
    w9 = mm(2, 3)
    nodes = [
        helper.make_node("Upsample", ["input", "scales"], ["up"], mode="nearest", name="up"),
        helper.make_node("ConvTranspose", ["up", "wt", "bt"], ["ct"], strides=[2, 2], pads=[1, 1, 1, 1],
                         output_padding=[1, 1], name="deconv"),
        helper.make_node("Elu", ["ct"], ["elu"], alpha=0.5, name="elu"),
        helper.make_node("Tanh", ["elu"], ["th"], name="tanh"),
        helper.make_node("DepthToSpace", ["th"], ["d2s"], blocksize=2, name="d2s"),
        helper.make_node("ReduceMean", ["d2s"], ["rm"], axes=[3], keepdims=1, name="rmean"),
        helper.make_node("GlobalMaxPool", ["rm"], ["gmp"], name="gmp"),
        helper.make_node("Flatten", ["gmp"], ["flat"], name="flat"),
        helper.make_node("MatMul", ["flat", "w"], ["logits"], name="head"),
    ]
    inits = [f32("scales", [1, 1, 2, 2]), f32("wt", wt), f32("bt", bt), f32("w", w9)]
    write_model(model_of(nodes, inits, ["N", 4, 6, 6], "logits", 9), "hand_opset9.onnx")
    with torch.no_grad():
        y = F.interpolate(x, scale_factor=2, mode="nearest")
        y = F.conv_transpose2d(y, torch.from_numpy(wt), torch.from_numpy(bt), stride=2, padding=1, output_padding=1)
        y = torch.tanh(F.elu(y, 0.5))
        b_, c_, h_, w_ = y.shape  # DepthToSpace, DCR mode (pixel_shuffle is CRD)
        y = y.reshape(b_, 2, 2, c_ // 4, h_, w_).permute(0, 3, 4, 1, 5, 2).reshape(b_, c_ // 4, h_ * 2, w_ * 2)
        y = y.mean(3, keepdim=True)
        feat = y.amax((2, 3))
        logits = feat @ torch.from_numpy(w9)
    save_npy("hand_opset9_features.npy", feat.numpy())
    save_npy("hand_opset9_logits.npy", logits.numpy())

    # opset 7: Upsample(scales attribute) -> Dropout(ratio attribute) -> Selu -> Softmax
    # (default axis 1, 2-D coercion) -> Flatten -> MatMul;  opset 3: Reshape's shape
    # attribute (before 5) and Concat's default axis (1 before 4);  opset 1: Pad(paddings)
    w7 = mm(4 * 12 * 12, 3)
    nodes = [
        helper.make_node("Upsample", ["input"], ["up"], scales=[1.0, 1.0, 2.0, 2.0], name="up"),
        helper.make_node("Dropout", ["up"], ["dr"], ratio=0.3, name="drop"),
        helper.make_node("Selu", ["dr"], ["se"], name="selu"),
        helper.make_node("Softmax", ["se"], ["sm"], name="sm"),
        helper.make_node("Flatten", ["sm"], ["flat"], name="flat"),
        helper.make_node("MatMul", ["flat", "w"], ["logits"], name="head"),
    ]
    write_model(model_of(nodes, [f32("w", w7)], ["N", 4, 6, 6], "logits", 7), "hand_opset7.onnx")
    with torch.no_grad():
        y = F.selu(F.interpolate(x, scale_factor=2, mode="nearest"))
        feat = torch.softmax(y.reshape(2, -1), 1)
        logits = feat @ torch.from_numpy(w7)
    save_npy("hand_opset7_features.npy", feat.numpy())
    save_npy("hand_opset7_logits.npy", logits.numpy())

    w3 = mm(8 * 36, 3)
    nodes = [
        helper.make_node("Reshape", ["input"], ["r"], shape=[0, 4, 36], name="reshape_attr"),
        helper.make_node("Concat", ["r", "r"], ["cat"], name="cat_default_axis"),
        helper.make_node("Flatten", ["cat"], ["flat"], name="flat"),
        helper.make_node("MatMul", ["flat", "w"], ["logits"], name="head"),
    ]
    write_model(model_of(nodes, [f32("w", w3)], ["N", 4, 6, 6], "logits", 3), "hand_opset3.onnx")
    with torch.no_grad():
        r3 = x.reshape(2, 4, 36)
        feat = torch.cat([r3, r3], 1).flatten(1)
        logits = feat @ torch.from_numpy(w3)
    save_npy("hand_opset3_features.npy", feat.numpy())
    save_npy("hand_opset3_logits.npy", logits.numpy())

    w1 = mm(4 * 7 * 9, 3)
    nodes = [
        helper.make_node("Pad", ["input"], ["p"], paddings=[0, 0, 1, 2, 0, 0, 0, 1], value=0.5, name="pad_v1"),
        helper.make_node("Flatten", ["p"], ["flat"], name="flat"),
        helper.make_node("MatMul", ["flat", "w"], ["logits"], name="head"),
    ]
    write_model(model_of(nodes, [f32("w", w1)], ["N", 4, 6, 6], "logits", 1), "hand_opset1.onnx")
    with torch.no_grad():
        feat = F.pad(x, (2, 1, 1, 0), value=0.5).flatten(1)
        logits = feat @ torch.from_numpy(w1)
    save_npy("hand_opset1_features.npy", feat.numpy())
    save_npy("hand_opset1_logits.npy", logits.numpy())


def main():
    if "--check-export" in sys.argv:
        check_export(sys.argv[sys.argv.index("--check-export") + 1])
        return
    hand_models()
    bad_models()
    old_opset_models()
    if "--hand-only" in sys.argv:  # the hand-written and bad models only (no torchvision exports)
        return
    x32 = torch.from_numpy(images(2, 32, 11))
    save_npy("input32.npy", x32.numpy())
    calib32 = torch.from_numpy(images(8, 32, 12))
    for opset in (11, 13, 17):
        export(f"small_cnn_op{opset}", small_cnn(), x32, opset=opset, gz=False, calib=calib32)
    # the same model with a static batch (Reshape target folded to a number by the exporter)
    export("small_cnn_static", small_cnn(), x32, opset=13, gz=False, dynamic=False, calib=calib32)
    for name, ctor in (("resnet18", torchvision.models.resnet18), ("mobilenet_v2", torchvision.models.mobilenet_v2),
                       ("densenet121", torchvision.models.densenet121)):
        torch.manual_seed(2)
        m = ctor()
        init_weights(m)
        export(name, m, x32, calib=calib32)
    if "--no-vgg" not in sys.argv:
        torch.manual_seed(3)
        m = torchvision.models.vgg11_bn()
        init_weights(m, sparse_linear=True)
        x224 = torch.from_numpy(images(2, 224, 13))
        save_npy("input224.npy", x224.numpy(), gz=True)
        export("vgg11_bn", m, x224, calib=torch.from_numpy(images(4, 224, 14)))
    # (appended last so the random streams of the fixtures above stay as they were)
    torch.manual_seed(4)
    m = GeluCNN()
    init_weights(m)
    export("gelu_cnn", m, x32, gz=False, calib=calib32)
    # efficientnet-style SiLU (Sigmoid * Mul) and squeeze-excitation (GAP -> conv -> Mul)
    torch.manual_seed(5)
    m = torchvision.models.efficientnet_b0()
    init_weights(m)
    tame(m)
    export("efficientnet_b0", m, x32, calib=calib32)
    # HardSwish / HardSigmoid (decomposed at import), squeeze-excitation
    torch.manual_seed(6)
    m = torchvision.models.mobilenet_v3_small()
    init_weights(m)
    tame(m)
    export("mobilenet_v3_small", m, x32, calib=calib32)


if __name__ == "__main__":
    main()
