#!/usr/bin/python3
"""Fine-tuning benchmark: the whole `xfer finetune` protocol (lr sweep 0.1/0.03/0.01 on a
stratified 80/20 split, retrain with the best on all training images, test) timed in
xfer and in PyTorch on the same pretrained ONNX models and the same images, at 1 and 2
threads. Networks and protocol: tests/ref/finetune_nets.py (the reference the C tests
compare with).

Bench-sized task (VTAB-1k-like): sklearn digits upsampled 8x8 -> 32x32 (bilinear), 1000
training images (100 per class) and the other 797 as the test set, uint8 (N, 1, 32, 32);
the three networks (resnet, mobilenet, groupnorm; --width scales their channels) are
pretrained on 6000 Fashion-MNIST images upsampled to 32x32 (3 epochs) and exported to
ONNX. `build` writes all of it into a directory (finetune.sh uses a temporary one).

Timing: xfer's figure is the "seconds" of its --json output; PyTorch's is the protocol
inside a child process (from the loaded model and images to the test accuracy; imports
and loading excluded), one child per measurement with torch.set_num_threads(T). Peak RSS
of both is the child's ru_maxrss (os.wait4), so both include their runtime's start-up.

Usage:
  finetune.py build DIR [--hw 32] [--width 1] [--train-per-class 100]
  finetune.py run DIR [--nets resnet,mobilenet,groupnorm] [--threads 1,2] [--modes full,head]
                      [--epochs 5] [--xfer build/xfer] [--torch-only]
  finetune.py torch DIR NET MODE THREADS EPOCHS     (one PyTorch measurement, JSON on stdout)
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "ref"))

NETS = ("resnet", "mobilenet", "groupnorm")
PRETRAIN_IMAGES = 6000
PRETRAIN_EPOCHS = 3
PRETRAIN_LR = 0.1


def build(d, hw, width, per_class):
    import torch
    import finetune_nets as fn
    torch.set_num_threads(2)
    os.makedirs(d, exist_ok=True)
    x, y = fn.load_digits()
    rng = np.random.default_rng(20260301)
    tr = fn.class_balanced(y, per_class, rng)
    te = np.setdiff1d(np.arange(len(y)), tr)
    x8 = fn.to_uint8(fn.resize(x, hw, "bilinear"))
    np.save(os.path.join(d, "train_x.npy"), x8[tr])
    np.save(os.path.join(d, "train_y.npy"), y[tr])
    np.save(os.path.join(d, "test_x.npy"), x8[te])
    np.save(os.path.join(d, "test_y.npy"), y[te])
    fx, fy = fn.load_fashion("train")
    idx = fn.class_balanced(fy, PRETRAIN_IMAGES // 10, np.random.default_rng(20260302))
    up = fn.resize(fx[idx] / 255.0, hw, "bilinear")
    info = {"hw": hw, "width": width, "train": int(len(tr)), "test": int(len(te)), "nets": {}}
    for k, name in enumerate(NETS):
        torch.manual_seed(20260310 + k)
        model = fn.make_net(name, classes=10, width=width)
        t0 = time.perf_counter()
        fn.pretrain(model, up, fy[idx], PRETRAIN_EPOCHS, PRETRAIN_LR, 20260320 + k)
        fn.export_onnx(model, os.path.join(d, name + ".onnx"), hw)
        torch.save(model.state_dict(), os.path.join(d, name + ".pt"))
        info["nets"][name] = {"params": fn.n_params(model), "D": model.head.in_features}
        print("finetune.py: %s (%d params) pretrained and exported in %.1f s"
              % (name, fn.n_params(model), time.perf_counter() - t0), file=sys.stderr)
    with open(os.path.join(d, "task.json"), "w") as f:
        json.dump(info, f)


def measure_torch(d, name, mode, threads, epochs):
    """One protocol run in this process; prints a JSON object."""
    import torch
    torch.set_num_threads(threads)
    import finetune_nets as fn
    with open(os.path.join(d, "task.json")) as f:
        info = json.load(f)
    model = fn.make_net(name, classes=10, width=info["width"])
    model.load_state_dict(torch.load(os.path.join(d, name + ".pt")))
    data = [np.load(os.path.join(d, f + ".npy")) for f in ("train_x", "train_y", "test_x", "test_y")]
    t0 = time.perf_counter()
    r = fn.protocol(model, *data, mode=mode, epochs=epochs, seed=0)
    sec = time.perf_counter() - t0
    n_img = epochs * (len(fn.LRS) * round(0.8 * len(data[1])) + len(data[1]))
    print(json.dumps({"model": name, "mode": mode, "threads": threads, "best_lr": r["best_lr"],
                      "val_accuracy": {str(k): v for k, v in r["val_accuracy"].items()},
                      "train_accuracy": r["train_accuracy"], "test_accuracy": r["test_accuracy"],
                      "seconds": sec, "images_per_second": n_img / sec}))


def run_child(cmd, env=None):
    """Runs cmd, returns (last JSON object on stdout or None, stderr tail, rc, peak RSS MB)."""
    # output to files, not pipes: the child is reaped with os.wait4 for its own rusage
    with tempfile.TemporaryFile("w+") as fo, tempfile.TemporaryFile("w+") as fe:
        p = subprocess.Popen(cmd, stdout=fo, stderr=fe, text=True, env=env)
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        fo.seek(0)
        fe.seek(0)
        out, err = fo.read(), fe.read()
    obj = None
    for line in out.splitlines()[::-1]:
        line = line.strip()
        if line.startswith("{"):
            try:
                obj = json.loads(line)
                break
            except ValueError:
                pass
    if obj is None and out.strip().startswith("{"):
        try:
            obj = json.loads(out)
        except ValueError:
            pass
    return obj, err[-600:], p.returncode, ru.ru_maxrss / 1024.0


def xfer_has_finetune(xfer):
    if not os.access(xfer, os.X_OK):
        return "%s not found (build it: cmake --build build)" % xfer
    p = subprocess.run([xfer, "finetune", "--help"], capture_output=True, text=True)
    if p.returncode != 0:
        msg = (p.stderr or p.stdout).strip().splitlines()
        return "%s finetune is missing (%s)" % (xfer, msg[0] if msg else "exit %d" % p.returncode)
    return None


def run(d, nets, threads, modes, epochs, xfer, torch_only):
    load = os.getloadavg()
    print("load average %.2f %.2f %.2f on %d CPUs" % (load + (os.cpu_count(),)))
    if load[0] > 0.5:
        print("WARNING: load average %.2f > 0.5: other work is running, timings will be noisy" % load[0])
    missing = None if torch_only else xfer_has_finetune(xfer)
    if missing:
        print("finetune.py: %s; timing PyTorch only" % missing, flush=True)
    with open(os.path.join(d, "task.json")) as f:
        info = json.load(f)
    print("task: %d training / %d test images, 1x%dx%d, width %d, %d epochs per run, lrs 0.1,0.03,0.01"
          % (info["train"], info["test"], info["hw"], info["hw"], info["width"], epochs))
    rows = []
    for name in nets:
        for t in threads:
            for mode in modes:
                env = dict(os.environ, OMP_NUM_THREADS=str(t), OPENBLAS_NUM_THREADS=str(t))
                xr, xrss = None, None
                if not missing:
                    cmd = [xfer, "finetune", "--model", os.path.join(d, name + ".onnx"),
                           "--data", os.path.join(d, "train_x.npy"), "--data-labels", os.path.join(d, "train_y.npy"),
                           "--test-data", os.path.join(d, "test_x.npy"), "--test-labels", os.path.join(d, "test_y.npy"),
                           "--mode", mode, "--lr", "0.1,0.03,0.01", "--epochs", str(epochs), "--batch", "64",
                           "--threads", str(t), "--json"]
                    xr, err, rc, xrss = run_child(cmd, env)
                    if rc != 0 or xr is None:
                        print("finetune.py: xfer %s %s %d threads failed (exit %d): %s"
                              % (name, mode, t, rc, err.strip()), file=sys.stderr)
                        xr = None
                tr, err, rc, trss = run_child([sys.executable, os.path.abspath(__file__), "torch", d, name, mode,
                                               str(t), str(epochs)], env)
                if rc != 0 or tr is None:
                    print("finetune.py: torch %s %s %d threads failed (exit %d): %s"
                          % (name, mode, t, rc, err.strip()), file=sys.stderr)
                    tr = None
                rows.append((name, t, mode, xr, xrss, tr, trss))
                print_row(rows[-1], flush=True)
    print()
    print_header()
    for r in rows:
        print_row(r)
    print("ratio = torch seconds / xfer seconds (> 1: xfer faster); RSS = peak resident MB of the process")
    failed = sum(r[5] is None or (not missing and r[3] is None) for r in rows)
    if missing:
        print("finetune.py: xfer columns empty: %s" % missing)
        return 1
    return 1 if failed else 0


def fmt(v, f):
    return f % v if v is not None else "-"


def print_header():
    print("%-10s %3s %-5s %9s %9s %6s %8s %8s %8s %8s" % ("net", "T", "mode", "xfer s", "torch s", "ratio",
                                                          "xfer %", "torch %", "xfer MB", "torch MB"))


def print_row(r, flush=False):
    name, t, mode, xr, xrss, tr, trss = r
    xs = xr.get("seconds") if xr else None
    ts = tr.get("seconds") if tr else None
    ratio = ts / xs if xs and ts else None
    print("%-10s %3d %-5s %9s %9s %6s %8s %8s %8s %8s"
          % (name, t, mode, fmt(xs, "%.2f"), fmt(ts, "%.2f"), fmt(ratio, "%.2f"),
             fmt(xr.get("test_accuracy") if xr else None, "%.1f"), fmt(tr.get("test_accuracy") if tr else None, "%.1f"),
             fmt(xrss if xr else None, "%.0f"), fmt(trss if tr else None, "%.0f")), flush=flush)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("dir")
    b.add_argument("--hw", type=int, default=32)
    b.add_argument("--width", type=int, default=1)
    b.add_argument("--train-per-class", type=int, default=100)
    r = sub.add_parser("run")
    r.add_argument("dir")
    r.add_argument("--nets", default=",".join(NETS))
    r.add_argument("--threads", default="1,2")
    r.add_argument("--modes", default="full,head")
    r.add_argument("--epochs", type=int, default=5)
    r.add_argument("--xfer", default="build/xfer")
    r.add_argument("--torch-only", action="store_true")
    t = sub.add_parser("torch")
    t.add_argument("dir")
    t.add_argument("net", choices=NETS)
    t.add_argument("mode", choices=("full", "head"))
    t.add_argument("threads", type=int)
    t.add_argument("epochs", type=int)
    a = ap.parse_args()
    if a.cmd == "build":
        build(a.dir, a.hw, a.width, a.train_per_class)
        return 0
    if a.cmd == "torch":
        measure_torch(a.dir, a.net, a.mode, a.threads, a.epochs)
        return 0
    return run(a.dir, a.nets.split(","), [int(v) for v in a.threads.split(",")], a.modes.split(","), a.epochs,
               a.xfer, a.torch_only)


if __name__ == "__main__":
    sys.exit(main())
