#!/usr/bin/env python3
"""Small inputs for the `xfer score` integration tests (tests/integration/score.sh):
good features/labels/probabilities and a set of malformed or inconsistent ones."""
import os
import numpy as np

d = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cli")
os.makedirs(d, exist_ok=True)
rng = np.random.default_rng(7)
N, D, C, Z = 60, 8, 3, 5
y = np.repeat(np.arange(C), N // C)
rng.shuffle(y)
means = rng.normal(size=(C, D)) * 2
good = (means[y] + rng.normal(size=(N, D))).astype(np.float32)
weak = (means[y] * 0.2 + rng.normal(size=(N, D))).astype(np.float32)
logits = rng.normal(size=(N, Z))
P = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
s = lambda name, a: np.save(os.path.join(d, name), a)
s("feat_good.npy", good)
s("feat_weak.npy", weak)
s("feat_f64.npy", good.astype(np.float64))
s("labels.npy", y.astype(np.int64))
s("labels_sparse.npy", (y * 10 + 3).astype(np.int32))      # labels not 0..C-1
s("labels_float_int.npy", y.astype(np.float32))           # integral floats are accepted
s("probs.npy", P.astype(np.float32))
s("probs2.npy", P[::-1].copy().astype(np.float32))
# bad ones
s("labels_short.npy", y[:-1].astype(np.int64))
s("labels_frac.npy", y.astype(np.float64) + 0.5)
s("labels_one_class.npy", np.zeros(N, np.int64))
s("labels_3d.npy", y.reshape(N, 1, 1))
s("labels_multi_bad.npy", np.full((N, C), 2.0))
s("feat_1d.npy", good[:, 0].copy())
s("feat_3d.npy", good.reshape(N, 2, 4))
s("feat_short.npy", good[:-2])
bad = good.copy(); bad[5, 3] = np.nan
s("feat_nan.npy", bad)
bad = good.copy(); bad[7, 1] = np.inf
s("feat_inf.npy", bad)
s("feat_nocols.npy", np.zeros((N, 0), np.float32))
s("feat_f64_overflow.npy", np.full((N, D), 1e300))
s("probs_logits.npy", logits.astype(np.float32))           # negative entries
s("probs_unnormalized.npy", np.exp(logits).astype(np.float32))  # rows do not sum to 1
neg = P.copy(); neg[0, 0] = -0.1; neg[0, 1] += 0.1
s("probs_negative.npy", neg.astype(np.float32))
s("probs_short.npy", P[:-1].astype(np.float32))
with open(os.path.join(d, "not_npy.npy"), "wb") as f:
    f.write(b"this is not a numpy file\n")
with open(os.path.join(d, "truncated.npy"), "wb") as f:
    f.write(open(os.path.join(d, "feat_good.npy"), "rb").read()[:200])
print("cli fixtures written to", d)
