#!/usr/bin/python3
"""Fixtures for tests/unit/test_corpus.c, written with Pillow and NumPy (Debian's
python3-pil, python3-numpy), independently of xfer's C code:

  corpus/digits40.csv        the first 40 rows of scikit-learn's digits.csv.gz
  corpus/digits40_up.npy     (40, 28, 28) uint8: each 8x8 scan upsampled to 22x22 with
                             Pillow's bilinear filter, x 255/16, centred in 28x28
  corpus/digits40_y.npy      (40,) int64 labels
  corpus/glyph_<font>_<hex>.npy  (28, 28) uint8: the character drawn by Pillow's FreeType
                             binding at 24 pixels per em, ink box centred in 28x28
                             (the corpus renderer's geometry without augmentation;
                             Pillow hints, so the test compares shapes, not bytes)

Run: /usr/bin/python3 tests/ref/gen_corpus.py   (from the repository root)
"""
import gzip
import os

import numpy as np
from PIL import Image, ImageDraw, ImageFont

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
DIGITS = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz"
os.makedirs(OUT, exist_ok=True)

# ---- digits ----
lines = gzip.open(DIGITS, "rt").read().strip().split("\n")[:40]
with open(os.path.join(OUT, "digits40.csv"), "w") as f:
    f.write("\n".join(lines) + "\n")
rows = np.array([[int(v) for v in ln.split(",")] for ln in lines])
x8, y = rows[:, :64].astype(np.float32) / 16.0, rows[:, 64].astype(np.int64)
up = np.zeros((40, 28, 28), np.uint8)
for i in range(40):
    im = Image.fromarray(x8[i].reshape(8, 8), mode="F").resize((22, 22), Image.BILINEAR)
    up[i, 3:25, 3:25] = np.clip(np.rint(np.asarray(im) * 255.0), 0, 255).astype(np.uint8)
np.save(os.path.join(OUT, "digits40_up.npy"), up)
np.save(os.path.join(OUT, "digits40_y.npy"), y)

# ---- glyphs ----
FONTS = {"dejavusans": "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
         "freeserif": "/usr/share/fonts/truetype/freefont/FreeSerif.ttf"}
CHARS = [0x41, 0x67, 0x6F, 0x4F, 0x51, 0x416, 0x3B2]  # A g o O Q zhe beta
for name, path in FONTS.items():
    font = ImageFont.truetype(path, 24)  # size = pixels per em
    for cp in CHARS:
        canvas = Image.new("L", (96, 96), 0)
        ImageDraw.Draw(canvas).text((30, 20), chr(cp), fill=255, font=font)
        a = np.asarray(canvas)
        ys, xs = np.nonzero(a)
        crop = a[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
        h, w = crop.shape
        if max(h, w) > 22:  # the renderer shrinks these to its fit box: compare only the plain case
            continue
        img = np.zeros((28, 28), np.uint8)
        top, left = (28 - h) // 2, (28 - w) // 2
        img[top:top + h, left:left + w] = crop
        np.save(os.path.join(OUT, "glyph_%s_%04x.npy" % (name, cp)), img)
print("wrote", OUT)
