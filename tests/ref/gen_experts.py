#!/usr/bin/python3
"""Reference fixtures for tests/unit/test_experts.c, computed with NumPy independently of
xfer (Puigcerver et al. 2021: hierarchy slices, label priors, label-matching KL).

Writes tests/ref/experts/:
  hierarchy.tsv     a 3-level tree: root -> 3 groups (one with 2 sub-groups) -> 12 leaves,
                    plus a class absent from the hierarchy ("stray")
  classes.txt       13 class names (label k = line k)
  labels.npy        (N,) int64 upstream labels
  slices.txt        one line per expected slice at MIN_IMAGES: "<node> <count>"
  members.npy       (S, N) uint8 membership of every image in every expected slice
  priors.npy        (S, Z) float64 label priors P_e = counts / n
  kl_P.npy          (E, Z) float64 expert priors (some zeros)
  kl_logits.npy     (M, Z) float32 generalist logits on a target
  kl_Q.npy          (Z,) float64 mean softmax
  kl.npy            (E,) float64 D_KL(P_e || (1-eps) Q + eps/Z), eps = 1e-6
"""
import os
import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "experts")
MIN_IMAGES = 40
EPS = 1e-6
rng = np.random.default_rng(20210101)

# tree (child, parent); node ids in order of first appearance as the parser assigns them
edges = [("animals", "root"), ("vehicles", "root"), ("tools", "root"),
         ("mammals", "animals"), ("birds", "animals"),
         ("cat", "mammals"), ("dog", "mammals"), ("horse", "mammals"),
         ("owl", "birds"), ("crow", "birds"),
         ("car", "vehicles"), ("bus", "vehicles"), ("bike", "vehicles"), ("train", "vehicles"),
         ("hammer", "tools"), ("saw", "tools"), ("drill", "tools")]
classes = ["cat", "dog", "horse", "owl", "crow", "car", "bus", "bike", "train", "hammer", "saw", "drill", "stray"]
parent = dict(edges)

def ancestors(c):
    out = []
    while c in parent:
        c = parent[c]
        out.append(c)
    return out

# class frequencies chosen so some inner nodes fall below MIN_IMAGES (tools: 3 x 6 = 18)
counts = [20, 15, 9, 7, 5, 12, 11, 10, 9, 6, 6, 6, 8]
labels = np.concatenate([np.full(n, k, dtype=np.int64) for k, n in enumerate(counts)])
rng.shuffle(labels)
N, Z = len(labels), len(classes)

inner = []  # inner nodes except root, in parser node order
order = []
for c, p in edges:
    for v in (c, p):
        if v not in order:
            order.append(v)
children = {}
for c, p in edges:
    children.setdefault(p, []).append(c)
for v in order:
    if v != "root" and v in children:
        inner.append(v)

rows, names = [], []
for v in inner:
    m = np.array([classes[y] != "stray" and v in ancestors(classes[y]) for y in labels], dtype=np.uint8)
    if m.sum() >= MIN_IMAGES:
        rows.append(m)
        names.append((v, int(m.sum())))
members = np.stack(rows)
priors = np.stack([np.bincount(labels[m.astype(bool)], minlength=Z) / m.sum() for m in members])

# KL fixtures
E, M = 5, 37
P = rng.random((E, Z))
P[P < 0.35] = 0.0
P[0] = 0; P[0][3] = 1.0           # a one-class slice
P /= P.sum(1, keepdims=True)
logits = (rng.normal(size=(M, Z)) * 3).astype(np.float32)
logits[:, 7] -= 40                # a class the generalist never predicts: Q ~ 0
lg = logits.astype(np.float64)
e = np.exp(lg - lg.max(1, keepdims=True))
Q = (e / e.sum(1, keepdims=True)).mean(0)
Qs = (1 - EPS) * Q + EPS / Z
kl = np.array([sum(p * np.log(p / q) for p, q in zip(Pe, Qs) if p > 0) for Pe in P])

os.makedirs(OUT, exist_ok=True)
with open(os.path.join(OUT, "hierarchy.tsv"), "w") as f:
    f.write("# gen_experts.py\n")
    for c, p in edges:
        f.write(f"{c}\t{p}\n")
with open(os.path.join(OUT, "classes.txt"), "w") as f:
    f.write("\n".join(classes) + "\n")
np.save(os.path.join(OUT, "labels.npy"), labels)
with open(os.path.join(OUT, "slices.txt"), "w") as f:
    for v, n in names:
        f.write(f"{v} {n}\n")
np.save(os.path.join(OUT, "members.npy"), members)
np.save(os.path.join(OUT, "priors.npy"), priors)
np.save(os.path.join(OUT, "kl_P.npy"), P)
np.save(os.path.join(OUT, "kl_logits.npy"), logits)
np.save(os.path.join(OUT, "kl_Q.npy"), Q)
np.save(os.path.join(OUT, "kl.npy"), kl)
print("slices", names, "kl", kl)
