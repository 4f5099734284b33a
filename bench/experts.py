#!/usr/bin/python3
"""The expert-model table of Puigcerver et al. 2021 (Tables 1-2) on the corpus's targets.

For each target task: the test accuracy after fine-tuning
  (a) the generalist,
  (b) the expert each proxy picks (kNN, KL label matching, EPN domain prediction),
  (c) the best expert (every expert of the family fine-tuned, the best test accuracy:
      the oracle that selection tries to approach),
  (d) the random-slice control of the same size as the kNN pick,
for full experts and adapter experts, then the mean over targets; and the cost of
selection (the proxies' wall time, all experts) against fine-tuning every expert.

Every figure printed comes from the runs this script makes; nothing is filled in.
Fine-tuning: `xfer finetune --mode full` (the whole network, adapters included, as the
paper fine-tunes, Sec. 3 step 4) with one learning rate and a fixed number of epochs,
tested on the task's test split. Run by bench/experts.sh.
"""
import argparse
import json
import os
import subprocess
import sys
import time

TARGETS = ["hand-digits", "new-scripts", "new-fonts", "font-digits", "script-id", "fashion-fine", "fashion-coarse"]
PROXIES = ["knn", "kl", "epn"]


def run(cmd, what):
    t0 = time.monotonic()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        sys.exit(f"experts.py: {what} failed ({' '.join(cmd)}):\n{p.stderr.strip()[-2000:]}")
    return p.stdout, time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bank", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--xfer", default="build/xfer")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--lr", default="0.03")
    ap.add_argument("--threads", default="2")
    ap.add_argument("--targets", default=",".join(TARGETS))
    ap.add_argument("--build-opts", default="--random-controls", help="options of `xfer experts build` if BANK is not built")
    ap.add_argument("--json-out", default="", help="write every measured number here")
    a = ap.parse_args()
    X = a.xfer

    rec_path = os.path.join(a.bank, "experts.json")
    complete = False
    if os.path.exists(rec_path):
        complete = json.load(open(rec_path)).get("complete") is True
    if not complete:
        print(f"experts.py: building the bank {a.bank} (resumable)", flush=True)
        subprocess.run([X, "experts", "build", "--corpus", a.corpus, "--out", a.bank, "--threads", a.threads] +
                       a.build_opts.split(), check=True)
    rec = json.load(open(rec_path))
    run([X, "experts", "export", "--bank", a.bank, "--all"], "export of the adapter experts")
    experts = rec["experts"]
    # the ONNX file of every model
    files = {"generalist": os.path.join(a.bank, rec["generalist"])}
    for e in experts:
        files[e["name"]] = os.path.join(a.bank, e["file"] if not e["adapter"] else f"adapters/{e['name']}.onnx")
    full = [e["name"] for e in experts if e["kind"] == "full"]
    adap = [e["name"] for e in experts if e["kind"] == "adapter"]
    slice_of = {e["name"]: e["slice"] for e in experts}
    control = {}  # (family, slice) -> the control's name
    for e in experts:
        if e["kind"] == "random":
            control[("adapter" if e["adapter"] else "full", e["slice"][len("random-"):])] = e["name"]

    cache = {}

    def finetune(model, task):
        key = (model, task)
        if key not in cache:
            out, _ = run([X, "finetune", "--model", files[model], "--data", f"corpus:{task}", "--corpus-dir", a.corpus,
                          "--mean", str(rec["input"]["mean"][0]), "--std", str(rec["input"]["std"][0]), "--mode", "full",
                          "--lr", a.lr, "--epochs", str(a.epochs), "--threads", a.threads, "--seed", "1", "--json"],
                         f"fine-tuning {model} on {task}")
            j = json.loads(out)
            cache[key] = (j["test_accuracy"], j["seconds"])
            print(f"  {task:15s} {model:28s} test {j['test_accuracy']:6.2f}%  ({j['seconds']:.1f} s)", flush=True)
        return cache[key]

    rows = []
    for task in a.targets.split(","):
        print(f"experts.py: {task}", flush=True)
        out, sel_wall = run([X, "experts", "select", "--bank", a.bank, "--data", f"corpus:{task}", "--corpus-dir", a.corpus,
                             "--json"], f"selection on {task}")
        s = json.loads(out)
        row = {"task": task, "picks": s["picks"], "select_seconds": s["seconds"], "select_wall": sel_wall}
        row["generalist"] = finetune("generalist", task)[0]
        for fam, names in (("full", full), ("adapter", adap)):
            if not names:
                continue
            accs = {n: finetune(n, task) for n in names}
            best = max(names, key=lambda n: (accs[n][0], -names.index(n)))
            row[f"best_{fam}"] = accs[best][0]
            row[f"best_{fam}_name"] = best
            row[f"finetune_all_{fam}_seconds"] = sum(v[1] for v in accs.values())
            for p in PROXIES:
                pick = s["picks"].get(f"{p}_{fam}")
                row[f"{p}_{fam}"] = accs[pick][0] if pick else None
            knn_pick = s["picks"].get(f"knn_{fam}")
            ctl = control.get((fam, slice_of.get(knn_pick, "")))
            row[f"random_{fam}"] = finetune(ctl, task)[0] if ctl else None
            row[f"random_{fam}_name"] = ctl
        rows.append(row)

    def fmt(v):
        return "     -" if v is None else f"{v:6.2f}"

    cols = ["generalist"] + [f"{p}_full" for p in PROXIES] + ["best_full", "random_full"] + \
           [f"{p}_adapter" for p in PROXIES] + ["best_adapter", "random_adapter"]
    head = ["gen", "kNN", "KL", "EPN", "best", "rand", "kNN", "KL", "EPN", "best", "rand"]
    print()
    print(f"test accuracy (%) after fine-tuning ({a.epochs} epochs, lr {a.lr}, mode full); "
          f"columns 2-6 full experts, 7-11 adapter experts")
    print(f"{'target':15s} " + " ".join(f"{h:>6s}" for h in head))
    for r in rows:
        print(f"{r['task']:15s} " + " ".join(fmt(r.get(c)) for c in cols))
    means = []
    for c in cols:
        v = [r.get(c) for r in rows]
        means.append(None if any(x is None for x in v) or not v else sum(v) / len(v))
    print(f"{'mean':15s} " + " ".join(fmt(m) for m in means))
    print()
    print("picks (kNN / KL / EPN; best)")
    for r in rows:
        p = r["picks"]
        print(f"{r['task']:15s} full: {p.get('knn_full')} / {p.get('kl_full')} / {p.get('epn_full')}; {r.get('best_full_name')}"
              f"   adapter: {p.get('knn_adapter')} / {p.get('kl_adapter')} / {p.get('epn_adapter')}; {r.get('best_adapter_name')}")
    print()
    print("cost per target: selection (every expert scored) vs fine-tuning every expert of the family")
    for r in rows:
        ss = r["select_seconds"]
        ft = r.get("finetune_all_full_seconds", 0) + r.get("finetune_all_adapter_seconds", 0)
        tot = ss["knn"] + ss["kl"] + ss["epn"]
        print(f"{r['task']:15s} select kNN {ss['knn']:.2f} s, KL {ss['kl']:.2f} s, EPN {ss['epn']:.2f} s; "
              f"fine-tune all {ft:.1f} s; ratio {ft / tot if tot > 0 else float('nan'):.0f}x (kNN alone "
              f"{ft / ss['knn'] if ss['knn'] > 0 else float('nan'):.0f}x)")
    if a.json_out:
        json.dump({"epochs": a.epochs, "lr": a.lr, "rows": rows, "means": dict(zip(cols, means))}, open(a.json_out, "w"), indent=1)


if __name__ == "__main__":
    main()
