#!/usr/bin/python3
"""Writes the fixtures of tests/unit/test_data.c under tests/ref/data/ (and fuzz seeds
under tests/fuzz/corpus/). Independent of xfer: IDX bytes by struct + gzip, images and
expected decoded/resized values by Pillow and NumPy, digits by scikit-learn.

Run: /usr/bin/python3 tests/ref/gen_data.py   (from the repository root)
"""
import gzip
import io
import os
import struct
import sys

import numpy as np

ROOT = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(ROOT, "data")
FUZZ = os.path.join(os.path.dirname(ROOT), "fuzz", "corpus")


def w(path, data):
    path = os.path.join(OUT, path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def wf(target, name, data):
    d = os.path.join(FUZZ, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def gz(data):
    # mtime=0 keeps the bytes reproducible
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as g:
        g.write(data)
    return buf.getvalue()


IDX_CODE = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C,
            np.float32: 0x0D, np.float64: 0x0E}


def idx_bytes(a):
    a = np.ascontiguousarray(a)
    code = IDX_CODE[a.dtype.type]
    hdr = struct.pack(">BBBB", 0, 0, code, a.ndim) + b"".join(struct.pack(">I", d) for d in a.shape)
    return hdr + a.astype(a.dtype.newbyteorder(">")).tobytes()


def gen_idx():
    rng = np.random.default_rng(7)
    imgs = rng.integers(0, 256, size=(6, 5, 4), dtype=np.uint8)  # (N, H, W)
    labels = np.array([0, 2, 1, 2, 0, 1], dtype=np.uint8)
    np.save(os.path.join(OUT, "idx_expect_images.npy"), imgs)
    np.save(os.path.join(OUT, "idx_expect_labels.npy"), labels)
    w("idx_plain/train-images-idx3-ubyte", idx_bytes(imgs))
    w("idx_plain/train-labels-idx1-ubyte", idx_bytes(labels))
    w("idx_plain/t10k-images-idx3-ubyte", idx_bytes(imgs[:3]))
    w("idx_plain/t10k-labels-idx1-ubyte", idx_bytes(labels[:3]))
    w("idx_gz/train-images-idx3-ubyte.gz", gz(idx_bytes(imgs)))
    w("idx_gz/train-labels-idx1-ubyte.gz", gz(idx_bytes(labels)))
    # every type code, with an expected .npy in native dtype
    vals = (np.arange(24).reshape(2, 3, 4) - 11.5) * 3.25
    for t in (np.int8, np.int16, np.int32, np.float32, np.float64):
        a = vals.astype(t)
        name = np.dtype(t).name
        w("idx_types/%s.idx" % name, idx_bytes(a))
        np.save(os.path.join(OUT, "idx_types", "%s.npy" % name), a)
    # gzip in two members (gzip -c a b > c): one stream for zlib, concatenated
    full = idx_bytes(imgs)
    w("idx_multi_member.idx.gz", gz(full[:40]) + gz(full[40:]))
    good_raw = idx_bytes(imgs)
    # the bad-file table
    w("bad_idx/truncated.idx", good_raw[:-7])
    w("bad_idx/truncated_header.idx", good_raw[:9])
    w("bad_idx/wrong_magic.idx", b"\x01\x00" + good_raw[2:])
    w("bad_idx/bad_type.idx", b"\x00\x00\x0a" + good_raw[3:])
    w("bad_idx/zero_dims.idx", b"\x00\x00\x08\x00")
    w("bad_idx/nine_dims.idx", b"\x00\x00\x08\x09" + b"\x00\x00\x00\x01" * 9 + b"\x00")
    w("bad_idx/dims_overflow.idx", b"\x00\x00\x0c\x03" + b"\xff\xff\xff\xff" * 3 + b"\x00" * 16)
    w("bad_idx/trailing.idx", good_raw + b"\x00\x01")
    w("bad_idx/gz_trailing_garbage.idx.gz", gz(good_raw) + b"garbage!")
    w("bad_idx/gz_truncated.idx.gz", gz(good_raw)[:-12])
    w("bad_idx/gz_short_data.idx.gz", gz(good_raw[:-5]))
    w("bad_idx/gz_long_data.idx.gz", gz(good_raw + b"\x07"))
    w("bad_idx/gz_corrupt.idx.gz", bytearray(gz(good_raw))[:30] + b"\xff" * 20 + gz(good_raw)[50:])
    # a tiny gzip declaring 4 GiB of pixels: must fail as truncated without a 4 GiB allocation
    w("bad_idx/gz_huge_declared.idx.gz", gz(b"\x00\x00\x08\x03" + struct.pack(">III", 1, 65536, 65536) + b"\x00" * 100))
    w("bad_idx/empty.idx", b"")
    for name in sorted(os.listdir(os.path.join(OUT, "bad_idx"))):
        with open(os.path.join(OUT, "bad_idx", name), "rb") as f:
            wf("fuzz_idx", name, f.read())
    wf("fuzz_idx", "good_images.idx", good_raw)
    wf("fuzz_idx", "good_images.idx.gz", gz(good_raw))
    wf("fuzz_idx", "good_f64.idx", idx_bytes(vals.astype(np.float64)))


DIGITS = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz"


def gen_digits():
    # a small file in the same format, plus bad variants
    rng = np.random.default_rng(3)
    pix = rng.integers(0, 17, size=(4, 64))
    lab = np.array([3, 0, 9, 3])
    lines = [",".join(str(v) for v in list(p) + [l]) for p, l in zip(pix, lab)]
    text = "\n".join(lines) + "\n"
    w("digits/small.csv", text.encode())
    w("digits/small.csv.gz", gz(text.encode()))
    np.save(os.path.join(OUT, "digits", "small_x.npy"), (pix / 16.0).astype(np.float32).reshape(4, 1, 8, 8))
    np.save(os.path.join(OUT, "digits", "small_y.npy"), lab.astype(np.int64))
    w("digits/bad_fields.csv", (lines[0] + "\n" + lines[1].rsplit(",", 1)[0] + "\n").encode())
    w("digits/bad_pixel.csv", (lines[0] + "\n" + "17" + lines[1][lines[1].index(","):] + "\n").encode())
    w("digits/bad_label.csv", (lines[0].rsplit(",", 1)[0] + ",10\n").encode())
    w("digits/bad_text.csv", (lines[0] + "\n" + "a" + lines[1] + "\n").encode())
    w("digits/empty.csv", b"\n\n")
    if os.path.exists(DIGITS):
        from sklearn.datasets import load_digits
        d = load_digits()
        np.save(os.path.join(OUT, "digits", "sklearn_first10.npy"), (d.data[:10] / 16.0).astype(np.float32))
        np.save(os.path.join(OUT, "digits", "sklearn_counts.npy"), np.bincount(d.target, minlength=10).astype(np.int64))
        np.save(os.path.join(OUT, "digits", "sklearn_pixel_sum.npy"), np.array([d.data.sum()], dtype=np.float64))
    else:
        print("note: %s missing; sklearn digits expectations not written" % DIGITS, file=sys.stderr)


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    parts = sys.argv[1:] or ["idx", "digits", "images", "hier"]
    for p in parts:
        globals()["gen_" + p]()
