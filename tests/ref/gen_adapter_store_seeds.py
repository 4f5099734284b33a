#!/usr/bin/python3
"""Seed corpus of tests/fuzz/fuzz_adapter_store.c: a tiny valid adapter store (docs/FORMATS.md
"Adapter store") around a hand-built ONNX backbone, and variants with the checksum
recomputed so that the reader's later checks are reached (wrong version, tensor count,
tensor name, shape, set count, duplicate set, trailing bytes) plus a few raw damages.

Backbone: input (N,1,8,8) -> Conv 3x3 (4) -> Relu -> Conv 3x3 stride 2 (8) -> Relu ->
GlobalAveragePool -> Flatten -> Gemm (3 classes, transB = 1). xf_ft_graph_create puts
adapters on the input of the strided conv (c = 4) and of the global pooling (c = 8)."""
import os
import struct
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fuzz", "corpus", "fuzz_adapter_store")
rng = np.random.default_rng(3)


def backbone():
    w1 = rng.normal(size=(4, 1, 3, 3)).astype(np.float32)
    w2 = rng.normal(size=(8, 4, 3, 3)).astype(np.float32)
    fw = rng.normal(size=(3, 8)).astype(np.float32)
    fb = rng.normal(size=(3,)).astype(np.float32)
    nodes = [helper.make_node("Conv", ["input", "w1"], ["c1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], name="conv1"),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node("Conv", ["r1", "w2"], ["c2"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2], name="conv2"),
             helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
             helper.make_node("GlobalAveragePool", ["r2"], ["gap"], name="gap"),
             helper.make_node("Flatten", ["gap"], ["flat"], axis=1, name="flatten"),
             helper.make_node("Gemm", ["flat", "fc.weight", "fc.bias"], ["logits"], transB=1, name="fc")]
    g = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, 8, 8])],
                          [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 3])],
                          [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2"),
                           numpy_helper.from_array(fw, "fc.weight"), numpy_helper.from_array(fb, "fc.bias")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    return m.SerializeToString()


def table():
    t = []
    for k, c in enumerate((4, 8)):
        h = c // 2
        t += [(f"adapter{k}.gn1.scale", (c,)), (f"adapter{k}.gn1.bias", (c,)), (f"adapter{k}.conv1.weight", (h, c, 1, 1)),
              (f"adapter{k}.gn2.scale", (h,)), (f"adapter{k}.gn2.bias", (h,)), (f"adapter{k}.conv2.weight", (c, h, 1, 1))]
    return t


def fnv1a(b):
    h = 0xcbf29ce484222325
    for x in b:
        h = ((h ^ x) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def pack(version=1, tab=None, sets=None, nt=None, ns=None, trailing=b""):
    bb = backbone()
    tab = table() if tab is None else tab
    per = sum(int(np.prod(s)) for _, s in tab)
    sets = [("adapter-a", rng.normal(size=per).astype(np.float32)), ("adapter-b", rng.normal(size=per).astype(np.float32))] \
        if sets is None else sets
    b = b"XFERADPT" + struct.pack("<IIQQ", version, 0, 9, len(bb)) + bb
    b += struct.pack("<I", len(tab) if nt is None else nt)
    for name, shape in tab:
        b += struct.pack("<I", len(name)) + name.encode() + struct.pack("<I", len(shape))
        b += b"".join(struct.pack("<Q", d) for d in shape)
    b += struct.pack("<I", len(sets) if ns is None else ns)
    for name, w in sets:
        b += struct.pack("<I", len(name)) + name.encode() + w.tobytes()
    b += trailing
    return b + struct.pack("<Q", fnv1a(b))


def main():
    os.makedirs(OUT, exist_ok=True)
    seeds = {"good.xfad": pack(), "good_empty.xfad": pack(sets=[])}
    t = table()
    seeds["bad_version.xfad"] = pack(version=2)
    seeds["bad_tensor_count.xfad"] = pack(nt=11)
    seeds["bad_tensor_name.xfad"] = pack(tab=[("adapter9.gn1.scale", t[0][1])] + t[1:])
    seeds["bad_tensor_shape.xfad"] = pack(tab=[(t[0][0], (5,))] + t[1:])
    seeds["bad_set_count.xfad"] = pack(ns=1000000)
    per = sum(int(np.prod(s)) for _, s in t)
    w = np.zeros(per, np.float32)
    seeds["dup_set.xfad"] = pack(sets=[("x", w), ("x", w)])
    seeds["trailing.xfad"] = pack(trailing=b"\0\0\0")
    good = seeds["good.xfad"]
    seeds["truncated.xfad"] = good[: len(good) // 2]
    seeds["bad_checksum.xfad"] = good[:-1] + bytes([good[-1] ^ 1])
    seeds["bad_magic.xfad"] = b"XFERADPX" + good[8:]
    for n, b in seeds.items():
        open(os.path.join(OUT, n), "wb").write(b)
    print(", ".join(f"{n} {len(b)}" for n, b in seeds.items()))


main()
