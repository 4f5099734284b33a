#!/usr/bin/python3
"""Seed corpora of two fuzz targets whose formats have no other seed writer:

- tests/fuzz/corpus/fuzz_experts_json/: expert bank records (experts.json, docs/FORMATS.md)
  naming the label priors the target puts in its scratch bank folder (priors/generalist.npy,
  a.npy, b.npy with 4 classes; bad.npy with 3): a valid record, and one damage per check.
- tests/fuzz/corpus/fuzz_feature_cache/: feature cache entries (src/select/fcache.c) for the
  target's fixed key: valid ones (with and without probabilities) and damaged ones.

Usage: /usr/bin/python3 tests/ref/gen_fuzz_seeds.py"""
import copy
import hashlib
import json
import os
import struct

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fuzz", "corpus")


def write(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def experts():
    def expert(name, prior, kind="full", adapter=False, epn=0):
        return {"name": name, "kind": kind, "adapter": adapter, "file": "" if adapter else name + ".onnx",
                "set": name if adapter else "", "slice": "s-" + name, "slice_size": 100,
                "label_prior": "priors/" + prior + ".npy", "epn_class": epn}

    good = {"format": "xfer-experts", "version": 1, "complete": True,
            "params": {"upstream_images": 1000, "seed": "1"},
            "input": {"channels": 1, "height": 16, "width": 16, "mean": [0.5], "std": [0.5]},
            "source_classes": 4, "generalist": "generalist.onnx", "adapter_store": "", "epn": "epn/epn.onnx",
            "epn_classes": ["s-a", "s-b"],
            "experts": [expert("a", "a"), expert("b", "b", epn=1)]}
    write("fuzz_experts_json", "good.json", json.dumps(good, indent=1))
    write("fuzz_experts_json", "good_no_epn.json", json.dumps(dict(good, epn="", experts=[expert("a", "a", epn=-1)])))
    damages = {
        "unfinished": lambda r: r.update(complete=False),
        "bad_version": lambda r: r.update(version=2),
        "bad_format": lambda r: r.update(format="xfer-bank"),
        "few_classes": lambda r: r.update(source_classes=1),
        "prior_width": lambda r: r["experts"][0].update(label_prior="priors/bad.npy"),
        "prior_missing": lambda r: r["experts"][1].update(label_prior="priors/none.npy"),
        "escape": lambda r: r.update(generalist="../x.onnx"),
        "absolute": lambda r: r["experts"][0].update(file="/etc/passwd"),
        "kind": lambda r: r["experts"][0].update(kind="generalist"),
        "duplicate": lambda r: r["experts"].append(expert("a", "a")),
        "adapter_no_store": lambda r: r["experts"][0].update(adapter=True, file="", set="a"),
        "adapter_store_missing": lambda r: (r.update(adapter_store="adapters.xfad"),
                                            r["experts"][0].update(kind="adapter", adapter=True, file="", set="a")),
        "epn_class": lambda r: r["experts"][0].update(epn_class=7),
        "input_std": lambda r: r["input"].update(std=[0]),
        # found by the fuzzer: a double beyond int64 converted unchecked (UBSan)
        "channels_huge": lambda r: r["input"].update(channels=1e300),
        "mean_huge": lambda r: r["input"].update(mean=[1e300]),
        "slice_size_huge": lambda r: r["experts"][0].update(slice_size=1e300),
        "epn_class_fraction": lambda r: r["experts"][0].update(epn_class=0.5),
        "experts_object": lambda r: r.update(experts={}),
    }
    for name, f in damages.items():
        r = copy.deepcopy(good)
        f(r)
        write("fuzz_experts_json", name + ".json", json.dumps(r))
    write("fuzz_experts_json", "truncated.json", json.dumps(good)[:150])


def feature_cache():
    key = hashlib.sha256(b"model=model-sha\ndata=data-sha\nprobe=n=8 seed=1\nlayer=feat,logits\n").digest()
    rng = np.random.default_rng(5)

    def entry(n, d, z, magic=b"XFFCACHE", version=1, digest=key, extra=b"", fix_sum=True, floats=None):
        body = magic + struct.pack("<II", version, 0) + digest + struct.pack("<qqqd", n, d, z, 1.5)
        body += rng.normal(size=n * (d + z) if floats is None else floats).astype("<f4").tobytes() + extra
        return body + (hashlib.sha256(body).digest() if fix_sum else bytes(32))

    write("fuzz_feature_cache", "good.xfc", entry(3, 4, 2))
    write("fuzz_feature_cache", "good_no_probs.xfc", entry(2, 5, 0))
    write("fuzz_feature_cache", "bad_magic.xfc", entry(3, 4, 2, magic=b"XFFCACHX"))
    write("fuzz_feature_cache", "bad_version.xfc", entry(3, 4, 2, version=2))
    write("fuzz_feature_cache", "bad_key.xfc", entry(3, 4, 2, digest=bytes(32)))
    write("fuzz_feature_cache", "bad_sum.xfc", entry(3, 4, 2, fix_sum=False))
    write("fuzz_feature_cache", "trailing.xfc", entry(3, 4, 2, extra=b"\0" * 4))
    write("fuzz_feature_cache", "huge_shape.xfc", entry(1 << 40, 1 << 30, 0, floats=8))
    write("fuzz_feature_cache", "negative.xfc", entry(-1, 4, 2, floats=8))
    write("fuzz_feature_cache", "short.xfc", entry(3, 4, 2)[:60])


if __name__ == "__main__":
    experts()
    feature_cache()
