#!/usr/bin/python3
"""Fixtures for `xfer finetune`, computed with PyTorch (Debian python3-torch 1.13) as the
independent implementation; the networks and the protocol are in finetune_nets.py.

Writes tests/ref/finetune/ (see its README.md for the file list):
  * <net>.onnx for net in resnet, mobilenet, groupnorm: each network pretrained on an
    upstream task - 6000 Fashion-MNIST training images (600 per class) downsampled
    28x28 -> 16x16 with F.interpolate(mode="area"), 4 epochs, SGD momentum 0.9, lr 0.1
    cosine, batch 64 - and exported (opset 13, BatchNormalization kept, 10 source
    classes, the classifier Linear named head);
  * the target task target_{train,test}_{x,y}.npy: scikit-learn's handwritten digits
    upsampled 8x8 -> 16x16 with F.interpolate(mode="bilinear", align_corners=False),
    stored as uint8 round(255 x) (N, 1, 16, 16) with int64 labels; 500 training images
    (50 per class) and 500 disjoint test images (50 per class), seeded selection;
  * accuracy.json: the whole protocol (lr sweep on a stratified 80/20 split, retrain,
    test) run in PyTorch with 5 seeds per network and mode, 5 epochs per run;
  * first-step fixtures: a batch of 16 target images, a head init, the parameters and
    BN running statistics after one and after two SGD steps in mode full (float64
    computation from the float32 weights, stored as float32), after one step in mode
    head, and the losses; manifest.json lists every file with its ONNX initializer name.

Every random choice is seeded by name (zlib.crc32 of a label). torch runs with 2 threads.
Run: /usr/bin/python3 tests/ref/gen_finetune.py   (about 2-3 minutes on 2 cores)
"""
import copy
import json
import os
import shutil
import sys
import time
import zlib

import numpy as np

# libgomp's spin-waiting collapses when the 2 cores are shared (bench/engine.sh)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import torch  # noqa: E402
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import finetune_nets as fn  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "finetune")
HW = 16
CLASSES = 10
SEEDS = (0, 1, 2, 3, 4)
EPOCHS = 5
PRETRAIN = {"dataset": "Fashion-MNIST train", "images": 6000, "per_class": 600, "epochs": 4, "lr": 0.1,
            "batch": 64, "resize": "F.interpolate area 28x28 -> 16x16"}
TARGET = {"dataset": "sklearn digits", "train_per_class": 50, "test_per_class": 50,
          "resize": "F.interpolate bilinear align_corners=False 8x8 -> 16x16, then uint8 round(255 x)"}
STEP = {"batch": 16, "lr": 0.1, "momentum": fn.MOMENTUM, "weight_decay": 0.0, "steps_full": 2, "steps_head": 1,
        "loss": "mean softmax cross-entropy", "lr_schedule": "none (lr 0.1 at both steps)",
        "dtype": "float64 from the float32 weights, stored float32"}
torch.set_num_threads(2)


def seed_of(label):
    return zlib.crc32(label.encode())


def save(rel, arr, dtype=np.float32):
    path = os.path.join(OUT, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.save(path, np.ascontiguousarray(arr, dtype=dtype))
    return rel


def target_task():
    x, y = fn.load_digits()
    rng = np.random.default_rng(seed_of("target-selection"))
    tr = fn.class_balanced(y, TARGET["train_per_class"], rng)
    te = fn.class_balanced(y, TARGET["test_per_class"], rng, exclude=tr)
    assert not np.intersect1d(tr, te).size
    x8 = fn.to_uint8(fn.resize(x, HW, "bilinear"))
    save("target_train_x.npy", x8[tr], np.uint8)
    save("target_train_y.npy", y[tr], np.int64)
    save("target_test_x.npy", x8[te], np.uint8)
    save("target_test_y.npy", y[te], np.int64)
    return x8[tr], y[tr], x8[te], y[te]


def upstream_task():
    x, y = fn.load_fashion("train")
    idx = fn.class_balanced(y, PRETRAIN["per_class"], np.random.default_rng(seed_of("fashion-subset")))
    xs, ys = fn.load_fashion("test")
    te = fn.class_balanced(ys, 100, np.random.default_rng(seed_of("fashion-test-subset")))
    return (fn.resize(x[idx] / 255.0, HW, "area"), y[idx],
            fn.resize(xs[te] / 255.0, HW, "area"), ys[te])


def pretrained_net(name, up):
    torch.manual_seed(seed_of("pretrain-init-" + name))
    model = fn.make_net(name, classes=CLASSES)
    t0 = time.perf_counter()
    fn.pretrain(model, up[0], up[1], PRETRAIN["epochs"], PRETRAIN["lr"], seed_of("pretrain-order-" + name),
                PRETRAIN["batch"])
    acc = fn.accuracy(model, torch.from_numpy(up[2]), torch.from_numpy(up[3]))
    print("%-9s %6d params, pretrained in %.1f s, Fashion-MNIST test accuracy %.1f%%"
          % (name, fn.n_params(model), time.perf_counter() - t0, acc), file=sys.stderr)
    return model, acc


def accuracy_runs(name, model, task):
    out = {}
    for mode in ("full", "head"):
        runs = [fn.protocol(model, *task, mode=mode, epochs=EPOCHS, seed=s) for s in SEEDS]
        acc = np.array([r["test_accuracy"] for r in runs])
        out[mode] = {"test_accuracy": acc.tolist(),
                     "best_lr": [r["best_lr"] for r in runs],
                     "val_accuracy": [{str(k): v for k, v in r["val_accuracy"].items()} for r in runs],
                     "train_accuracy": [r["train_accuracy"] for r in runs],
                     "mean": float(acc.mean()), "std": float(acc.std(ddof=0)),
                     "min": float(acc.min()), "max": float(acc.max())}
    return out


def step_fixtures(name, model, names, train_x, train_y):
    """One and two SGD steps in mode full, one in mode head, float64 from float32."""
    rng = np.random.default_rng(seed_of("step-batch-" + name))
    b = np.sort(rng.choice(len(train_y), size=STEP["batch"], replace=False))
    x32 = (train_x[b].astype(np.float32) / np.float32(255.0)).astype(np.float32)
    y = train_y[b].astype(np.int64)
    files = {"x": save(name + "_step_x.npy", x32), "y": save(name + "_step_y.npy", y, np.int64)}
    head = copy.deepcopy(model)
    fn.new_head(head, CLASSES, torch.Generator().manual_seed(seed_of("step-head-" + name)))
    hw, hb = head.head.weight.detach().numpy(), head.head.bias.detach().numpy()
    files["head_w"] = save(name + "_step_head_w.npy", hw)
    files["head_b"] = save(name + "_step_head_b.npy", hb)
    xt, yt = torch.from_numpy(x32.astype(np.float64)), torch.from_numpy(y)

    def start():
        m = copy.deepcopy(model).double()
        with torch.no_grad():
            m.head.weight.copy_(torch.from_numpy(hw.astype(np.float64)))
            m.head.bias.copy_(torch.from_numpy(hb.astype(np.float64)))
        return m

    def step(m, params, bufs):
        for p in params:
            p.grad = None
        logits = m(xt)
        loss = F.cross_entropy(logits, yt)
        loss.backward()
        fn.sgd_step(params, bufs, STEP["lr"])
        return logits.detach(), float(loss)

    def dump(m, folder, keys=None):
        out = []
        for k, v in m.state_dict().items():
            if k in names and (keys is None or k in keys):
                out.append(save("%s/%s.npy" % (folder, names[k]), v.detach().numpy()))
        return out

    m = start()
    fn.set_mode(m, "full")
    params, bufs = [p for p in m.parameters() if p.requires_grad], {}
    logits, loss1 = step(m, params, bufs)
    files["logits"] = save(name + "_step_logits.npy", logits.numpy())
    files["loss"] = save(name + "_step_loss.npy", [loss1])
    files["step1"] = dump(m, name + "_step1")
    _, loss2 = step(m, params, bufs)
    files["loss2"] = save(name + "_step2_loss.npy", [loss2])
    files["step2"] = dump(m, name + "_step2")

    m = start()
    fn.set_mode(m, "head")
    params, bufs = [p for p in m.parameters() if p.requires_grad], {}
    _, lossh = step(m, params, bufs)
    files["head_loss"] = save(name + "_headstep_loss.npy", [lossh])
    files["headstep1"] = dump(m, name + "_headstep1", keys=("head.weight", "head.bias"))
    return files, loss1, loss2, lossh


def no_classifier_model():
    """A valid network with nothing to replace (Conv, Relu, global pooling, Flatten; no
    Gemm/MatMul): `xfer finetune` must refuse it with one line (int_finetune)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    w = numpy_helper.from_array(np.random.RandomState(0).randn(4, 1, 3, 3).astype(np.float32), "conv.weight")
    g = helper.make_graph([helper.make_node("Conv", ["input", "conv.weight"], ["c"], pads=[1, 1, 1, 1]),
                           helper.make_node("Relu", ["c"], ["r"]),
                           helper.make_node("GlobalAveragePool", ["r"], ["p"]),
                           helper.make_node("Flatten", ["p"], ["features"])], "no_classifier",
                          [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, 16, 16])],
                          [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", 4])], [w])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(OUT, "no_classifier.onnx"))


def main():
    t_start = time.perf_counter()
    for net in fn.NETS:
        for d in ("_step1", "_step2", "_headstep1"):
            shutil.rmtree(os.path.join(OUT, net + d), ignore_errors=True)
    os.makedirs(OUT, exist_ok=True)
    task = target_task()
    up = upstream_task()
    manifest = {"hw": HW, "classes": CLASSES, "step": STEP, "nets": {}}
    acc = {"protocol": {"lrs": list(fn.LRS), "momentum": fn.MOMENTUM, "weight_decay": 0.0, "batch": fn.BATCH,
                        "epochs": EPOCHS, "seeds": list(SEEDS), "val_fraction": fn.VAL_FRACTION,
                        "split": "stratified: per class a random permutation, the first round(0.2 n_c) validate",
                        "schedule": "cosine per step, lr_t = 0.5 lr (1 + cos(pi t / T)), t = 0..T-1",
                        "last_batch": "kept if it has >= 2 images, dropped if 1",
                        "shuffle": "fresh random permutation each epoch",
                        "head_init": "nn.Linear default: U(-1/sqrt(D), 1/sqrt(D)) for weight and bias",
                        "modes": {"full": "all parameters train, BatchNorm in train mode",
                                  "head": "only the new Linear trains, backbone frozen in eval mode"},
                        "selection": "best validation accuracy, ties to the first listed lr; retrain on all "
                                     "training images from the pretrained weights",
                        "input": "uint8 / 255, no normalisation",
                        "std": "population (ddof=0) over the seeds",
                        "accuracy_units": "percent",
                        "pretrain": PRETRAIN, "target": TARGET,
                        "train_images": int(len(task[1])), "test_images": int(len(task[3])),
                        "torch": torch.__version__, "threads": torch.get_num_threads()},
           "nets": {}}
    for name in fn.NETS:
        model, up_acc = pretrained_net(name, up)
        proto, names, export_info = fn.export_onnx(model, os.path.join(OUT, name + ".onnx"), HW)
        inits = {i.name: list(i.dims) for i in proto.graph.initializer}
        t0 = time.perf_counter()
        acc["nets"][name] = accuracy_runs(name, model, task)
        t_acc = time.perf_counter() - t0
        files, l1, l2, lh = step_fixtures(name, model, names, task[0], task[1])
        bn_stats = [k for k in names if k.endswith(("running_mean", "running_var"))]
        manifest["nets"][name] = {
            "onnx": name + ".onnx", "params": fn.n_params(model), "D": model.head.in_features,
            "source_classes": CLASSES, "fashion_test_accuracy": up_acc,
            "tail": fn.graph_tail(proto, 4), "export": export_info,
            "batchnorm_nodes": sum(n.op_type == "BatchNormalization" for n in proto.graph.node),
            "initializers": [{"name": names[k], "state_dict": k, "onnx_shape": inits[names[k]],
                              "fixture_shape": list(model.state_dict()[k].shape),
                              "kind": "bn_stat" if k in bn_stats else "param"} for k in names],
            "files": files, "loss": [l1, l2], "head_loss": lh}
        r = acc["nets"][name]
        print("%-9s accuracy runs %.1f s; step losses %.6f %.6f, head step %.6f; full %.1f +- %.1f, head %.1f +- %.1f"
              % (name, t_acc, l1, l2, lh, r["full"]["mean"], r["full"]["std"], r["head"]["mean"], r["head"]["std"]),
              file=sys.stderr)
    no_classifier_model()
    with open(os.path.join(OUT, "accuracy.json"), "w") as f:
        json.dump(acc, f, indent=1)
        f.write("\n")
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    print("\n%-10s %-5s %16s %14s  %s" % ("net", "mode", "test acc %", "range", "best lr per seed"))
    for name, modes in acc["nets"].items():
        for mode, r in modes.items():
            print("%-10s %-5s %8.1f +- %4.1f %6.1f..%5.1f  %s" % (name, mode, r["mean"], r["std"], r["min"], r["max"],
                                                                  " ".join("%g" % v for v in r["best_lr"])))
    print("(std: population over seeds %s; %d epochs per run)" % (list(SEEDS), EPOCHS))
    print("wall time %.1f s" % (time.perf_counter() - t_start))


if __name__ == "__main__":
    main()
