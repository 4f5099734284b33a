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


def png_bytes(arr, bitdepth, color_type, dims=None):
    """A PNG written by hand (no Pillow): filter 0 on every row, big-endian samples."""
    import zlib
    h, wd = arr.shape[:2]
    raw = b""
    a = arr.astype(">u2" if bitdepth == 16 else "u1")
    for y in range(h):
        raw += b"\x00" + a[y].tobytes()

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    if dims:
        h, wd = dims
    ihdr = struct.pack(">IIBBBBB", wd, h, bitdepth, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def pil_f_resize(plane, size):
    """Pillow BILINEAR on a float ('F') image: the exact-arithmetic reference."""
    from PIL import Image
    im = Image.fromarray(plane.astype(np.float32), mode="F")
    return np.asarray(im.resize(size, Image.BILINEAR), dtype=np.float32)


def tv_geometry(h, w, resize, ch, cw):
    """torchvision Resize(int) + CenterCrop geometry (0.14)."""
    short, long_ = (w, h) if w <= h else (h, w)
    ns, nl = resize, int(resize * long_ / short)
    nw, nh = (ns, nl) if w <= h else (nl, ns)
    top = int(round((nh - ch) / 2.0))
    left = int(round((nw - cw) / 2.0))
    return nh, nw, top, left


def expect_tensor(dec01, channels, ch, cw, resize, mean, std, rgb8=None):
    """dec01: (H, W, C) float in [0,1]; rgb8: the uint8 RGB pixels for Pillow's 'L'."""
    h, w, c = dec01.shape
    if channels == 3 and c == 1:
        dec01 = np.repeat(dec01, 3, axis=2)
    if channels == 1 and c == 3:
        if rgb8 is not None:
            r, g, b = [rgb8[..., i].astype(np.int64) for i in range(3)]
            dec01 = (((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16) / 255.0)[..., None]
        else:
            dec01 = (0.299 * dec01[..., 0] + 0.587 * dec01[..., 1] + 0.114 * dec01[..., 2])[..., None]
    out = np.zeros((channels, ch, cw), np.float32)
    if resize == 0:
        resize = max(ch, cw)
    nh, nw, top, left = tv_geometry(h, w, resize, ch, cw)
    for k in range(channels):
        plane = dec01[..., k].astype(np.float32)
        if (nh, nw) != (h, w):
            plane = pil_f_resize(plane, (nw, nh))
        plane = plane[top:top + ch, left:left + cw]
        m, s = (mean[0], std[0]) if channels == 1 else (mean[k], std[k])
        out[k] = (plane - m) / s
    return out


def gen_images():
    from PIL import Image
    import torch
    import torchvision.transforms as T
    rng = np.random.default_rng(11)
    base = os.path.join(OUT, "folder")
    files = []  # (class, name, decoded (H,W,C) float01, rgb8-or-None, pil-openable-for-torchvision)

    def smooth(h, w, c):
        # smooth-ish content so JPEG keeps it recognisable; random so resize is exercised
        y, x = np.mgrid[0:h, 0:w]
        a = np.stack([(np.sin(x * 0.7 + k) + np.cos(y * 0.45 - k)) for k in range(c)], -1)
        a = (a - a.min()) / (a.max() - a.min() + 1e-9)
        a = 0.8 * a + 0.2 * rng.random((h, w, c))
        return a

    def save(cls, name, data):
        d = os.path.join(base, cls)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
        return os.path.join(d, name)

    def pil_bytes(im, fmt, **kw):
        b = io.BytesIO()
        im.save(b, fmt, **kw)
        return b.getvalue()

    # C_upper: palette PNG and a 16-bit RGB PNG (hand-written)
    rgb = (smooth(10, 12, 3) * 255).astype(np.uint8)
    pal = Image.fromarray(rgb, "RGB").convert("P", palette=Image.ADAPTIVE, colors=8)
    p = save("C_upper", "p1_palette.png", pil_bytes(pal, "PNG"))
    dec = np.asarray(Image.open(p).convert("RGB"))
    files.append(("C_upper", "p1_palette.png", dec / 255.0, dec, True))
    a16 = (smooth(9, 9, 3) * 65535).astype(np.uint16)
    save("C_upper", "p2_rgb16.png", png_bytes(a16, 16, 2))
    files.append(("C_upper", "p2_rgb16.png", a16 / 65535.0, None, False))
    # a_dog: 8-bit gray PNG, RGB JPEG, gray JPEG, 16-bit gray PNG (Pillow writes I;16)
    g = (smooth(12, 10, 1)[..., 0] * 255).astype(np.uint8)
    p = save("a_dog", "g1_gray.png", pil_bytes(Image.fromarray(g, "L"), "PNG"))
    files.append(("a_dog", "g1_gray.png", g[..., None] / 255.0, None, True))
    j = (smooth(16, 16, 3) * 255).astype(np.uint8)
    p = save("a_dog", "g2.jpg", pil_bytes(Image.fromarray(j, "RGB"), "JPEG", quality=90))
    dec = np.asarray(Image.open(p).convert("RGB"))
    files.append(("a_dog", "g2.jpg", dec / 255.0, dec, True))
    jg = (smooth(11, 13, 1)[..., 0] * 255).astype(np.uint8)
    p = save("a_dog", "g3_gray.jpg", pil_bytes(Image.fromarray(jg, "L"), "JPEG", quality=85))
    dec = np.asarray(Image.open(p))
    files.append(("a_dog", "g3_gray.jpg", dec[..., None] / 255.0, None, True))
    g16 = (smooth(10, 9, 1)[..., 0] * 65535).astype(np.uint16)
    save("a_dog", "g4_gray16.png", png_bytes(g16, 16, 0))
    files.append(("a_dog", "g4_gray16.png", g16[..., None] / 65535.0, None, False))
    # b_cat: RGBA (alpha dropped), RGB with an odd crop offset (round half even), 1-bit
    ra = (smooth(8, 13, 4) * 255).astype(np.uint8)
    p = save("b_cat", "r1_rgba.png", pil_bytes(Image.fromarray(ra, "RGBA"), "PNG"))
    files.append(("b_cat", "r1_rgba.png", ra[..., :3] / 255.0, ra[..., :3], True))
    r2 = (smooth(15, 20, 3) * 255).astype(np.uint8)
    p = save("b_cat", "r2_rgb.png", pil_bytes(Image.fromarray(r2, "RGB"), "PNG"))
    files.append(("b_cat", "r2_rgb.png", r2 / 255.0, r2, True))
    b1 = smooth(10, 11, 1)[..., 0] > 0.5
    p = save("b_cat", "r3_1bit.png", pil_bytes(Image.fromarray(b1), "PNG"))
    dec = np.asarray(Image.open(p).convert("L"))
    files.append(("b_cat", "r3_1bit.png", dec[..., None] / 255.0, None, True))
    # not an image by extension: ignored like torchvision's ImageFolder
    save("b_cat", "notes.txt", b"not an image\n")

    # expected decoded pixels (Pillow) of every file, in the folder order
    order = sorted(files, key=lambda f: (f[0].encode(), f[1].encode()))
    exp_f = {}
    for ch_out, tag in ((3, "rgb"), (1, "gray")):
        ex = np.stack([expect_tensor(f[2], ch_out, 8, 8, 0, MEAN if ch_out == 3 else (0.5,), STD if ch_out == 3 else (0.25,),
                                     rgb8=f[3]) for f in order])
        np.save(os.path.join(OUT, "folder_expect_%s_8x8.npy" % tag), ex)
        exp_f[tag] = ex
    np.save(os.path.join(OUT, "folder_expect_labels.npy"),
            np.array([sorted({f[0] for f in files}, key=str.encode).index(f[0]) for f in order], np.int64))
    # stretch to 6x9 and resize 12 + crop 7x5, RGB, no normalisation
    ex = np.stack([expect_tensor_stretch(f[2], 6, 9) for f in order])
    np.save(os.path.join(OUT, "folder_expect_stretch_6x9.npy"), ex)
    ex = np.stack([expect_tensor(f[2], 3, 7, 5, 12, (0, 0, 0), (1, 1, 1), rgb8=f[3]) for f in order])
    np.save(os.path.join(OUT, "folder_expect_r12_7x5.npy"), ex)
    # torchvision's own pipeline on the 8-bit files (Pillow rounds to uint8 between passes)
    tf = T.Compose([T.Resize(8), T.CenterCrop(8), T.ToTensor(), T.Normalize(MEAN, STD)])
    tv = []
    for i, f in enumerate(order):
        if f[4]:
            tv.append(tf(Image.open(os.path.join(base, f[0], f[1])).convert("RGB")).numpy())
        else:
            tv.append(np.full((3, 8, 8), np.nan, np.float32))
    tv = np.stack(tv).astype(np.float32)
    np.save(os.path.join(OUT, "folder_expect_torchvision_8x8.npy"), tv)
    ok = ~np.isnan(tv)
    print("float pipeline vs torchvision: max |diff| = %.5f (in std units), %.5f in pixel units"
          % (np.abs(tv[ok] - exp_f["rgb"][ok]).max(), (np.abs(tv - exp_f["rgb"]) * np.array(STD)[None, :, None, None])[ok].max()))
    # decoded pixels for direct decoder checks
    dec_j = np.asarray(Image.open(os.path.join(base, "a_dog", "g2.jpg")))
    np.save(os.path.join(OUT, "decode_g2_jpg.npy"), dec_j)
    np.save(os.path.join(OUT, "decode_g3_gray_jpg.npy"), np.asarray(Image.open(os.path.join(base, "a_dog", "g3_gray.jpg"))))
    np.save(os.path.join(OUT, "decode_p1_palette.npy"), np.asarray(Image.open(os.path.join(base, "C_upper", "p1_palette.png")).convert("RGB")))
    np.save(os.path.join(OUT, "decode_p2_rgb16.npy"), a16)
    np.save(os.path.join(OUT, "decode_g4_gray16.npy"), g16)
    np.save(os.path.join(OUT, "decode_r1_rgba.npy"), ra[..., :3].copy())
    np.save(os.path.join(OUT, "decode_r3_1bit.npy"), np.asarray(Image.open(os.path.join(base, "b_cat", "r3_1bit.png")).convert("L")))
    # the resampler alone on random float planes, several up/down ratios (Pillow 'F')
    for (ih, iw, oh, ow) in ((7, 9, 3, 4), (5, 5, 11, 13), (32, 20, 7, 20), (9, 30, 9, 8), (1, 6, 4, 3)):
        src = rng.random((ih, iw)).astype(np.float32)
        np.save(os.path.join(OUT, "resize_src_%dx%d.npy" % (ih, iw)), src)
        np.save(os.path.join(OUT, "resize_dst_%dx%d_%dx%d.npy" % (ih, iw, oh, ow)), pil_f_resize(src, (ow, oh)))

    # bad images
    good = pil_bytes(Image.fromarray(g, "L"), "PNG")
    bad = bytearray(good)
    i = bad.index(b"IDAT") + 10
    bad[i] ^= 0xFF
    bad[i + 1] ^= 0x55
    w("bad_img/corrupt.png", bytes(bad))
    w("bad_img/truncated.png", good[: len(good) // 2])
    jpg = pil_bytes(Image.fromarray(j, "RGB"), "JPEG", quality=90)
    w("bad_img/truncated.jpg", jpg[: len(jpg) * 2 // 3])
    w("bad_img/not_image.png", b"hello, this is text\n")
    w("bad_img/huge_header.png", png_bytes(np.zeros((1, 1), np.uint8), 8, 0, dims=(1 << 20, 1 << 20)))
    w("bad_img/bomb_header.png", png_bytes(np.zeros((1, 1), np.uint8), 8, 0, dims=(3000, 3000)))
    # a legitimately extreme compression ratio (all zero, ~1000:1) must still decode
    w("flat_1500.png", pil_bytes(Image.fromarray(np.zeros((1500, 1500), np.uint8), "L"), "PNG", optimize=True))
    for name in sorted(os.listdir(os.path.join(OUT, "bad_img"))):
        with open(os.path.join(OUT, "bad_img", name), "rb") as f:
            wf("fuzz_png", name, f.read())
    for f in order:
        with open(os.path.join(base, f[0], f[1]), "rb") as fh:
            wf("fuzz_png", "good_" + f[1], fh.read())


def expect_tensor_stretch(dec01, oh, ow):
    h, w, c = dec01.shape
    if c == 1:
        dec01 = np.repeat(dec01, 3, axis=2)
    return np.stack([pil_f_resize(dec01[..., k].astype(np.float32), (ow, oh)) for k in range(3)])


HIER_GOOD = """# a small label tree: script -> character, with a comment and blank lines

latin\tall
greek\tall
a\tlatin
b\tlatin
alpha\tgreek
beta\tgreek
a\tlatin
digits\tall
 seven \t digits
small b\tb
  # indented comment
"""


def gen_hier():
    """Trees and the bad-file table; expected leaves and ancestors by a plain Python walk."""
    w("hier/good.tsv", HIER_GOOD.encode())
    w("hier/good_crlf_rootdecl.tsv", ("all\r\n" + HIER_GOOD.replace("\n", "\r\n")).encode())
    parent = {}
    order = []
    for line in HIER_GOOD.splitlines():
        t = line.strip(" ")
        if not t or t.startswith("#"):
            continue
        c, p = [x.strip(" ") for x in t.split("\t")]
        for n in (c, p):
            if n not in order:
                order.append(n)
        parent[c] = p
    kids = {n: [c for c in order if parent.get(c) == n] for n in order}

    def leaves(n):
        return [n] if not kids[n] else sum((leaves(k) for k in kids[n]), [])

    def anc(n):
        r = []
        while n in parent:
            n = parent[n]
            r.append(n)
        return r
    lines = ["%s\t%s\t%s" % (n, ",".join(leaves(n)), ",".join(anc(n))) for n in order]
    w("hier/good_expect.txt", ("\n".join(lines) + "\n").encode())
    bad = {
        "cycle.tsv": "a\troot\nb\tc\nc\td\nd\tb\n",
        "self_loop.tsv": "a\troot\nb\tb\n",
        "two_roots.tsv": "a\tr1\nb\tr2\n",
        "orphan.tsv": "r\nx\tr\ny\tlost\n",
        "malformed_fields.tsv": "a\troot\nb\ta\textra\n",
        "malformed_empty.tsv": "a\troot\n\tb\n",
        "dup_parent.tsv": "a\troot\nb\troot\nc\ta\nc\tb\n",
        "root_has_parent.tsv": "top\na\ttop\ntop\ta\n",
        "two_root_decls.tsv": "r\ns\na\tr\n",
        "empty.tsv": "# nothing\n\n",
        "cycle_no_root.tsv": "a\tb\nb\ta\n",
    }
    for k, v in bad.items():
        w("hier/" + k, v.encode())
        wf("fuzz_hierarchy", k, v.encode())
    wf("fuzz_hierarchy", "good.tsv", HIER_GOOD.encode())
    wf("fuzz_hierarchy", "good_crlf.tsv", ("all\r\n" + HIER_GOOD.replace("\n", "\r\n")).encode())


def parc_counts(y, k, budget, mpc, seed):
    """PARC's FixedBudgetSampler loop (datasets.py) with Python's random; returns the
    per-class counts of the probe set (deterministic when classes are not subsampled)."""
    import random
    random.seed(seed)
    class_to_idx = {}
    for i, c in enumerate(y):
        class_to_idx.setdefault(int(c), []).append(i)
    for v in class_to_idx.values():
        random.shuffle(v)
    class_indices = [i for i in range(k) if i in class_to_idx]
    if k * mpc > budget:
        random.shuffle(class_indices)
        class_indices = class_indices[:budget // mpc]
    out, last = [], None
    while last != len(out) and len(out) < budget:
        last = len(out)
        for i in class_indices:
            if class_to_idx[i]:
                out.append(class_to_idx[i].pop())
            if len(out) >= budget:
                break
    return np.bincount(np.asarray(y)[out], minlength=k)


def gen_sampler():
    rng = np.random.default_rng(5)
    # an imbalanced 12-class label vector: some classes tiny, one empty
    sizes = [1, 2, 3, 7, 40, 80, 0, 150, 5, 60, 33, 200]
    y = np.concatenate([np.full(s, c) for c, s in enumerate(sizes)])
    y = y[rng.permutation(len(y))].astype(np.int32)
    np.save(os.path.join(OUT, "sampler_y.npy"), y)
    for budget in (500, 100, 37):
        np.save(os.path.join(OUT, "sampler_counts_%d.npy" % budget), parc_counts(y, 12, budget, 2, 1).astype(np.int64))


def gen_spec():
    """Fixtures of xf_data_open: npy image arrays, a tiny corpus task, expected tensors."""
    imgs = np.load(os.path.join(OUT, "idx_expect_images.npy"))  # (6, 5, 4) uint8
    # the IDX set resized to 3 x 8 x 8 (gray -> RGB), normalised
    ex = np.stack([expect_tensor(im[..., None] / 255.0, 3, 8, 8, 0, MEAN, STD) for im in imgs])
    np.save(os.path.join(OUT, "idx_expect_3x8x8.npy"), ex)
    rng = np.random.default_rng(9)
    nhwc = rng.integers(0, 256, size=(5, 6, 7, 3), dtype=np.uint8)
    np.save(os.path.join(OUT, "npy", "nhwc_x.npy") if os.path.isdir(os.path.join(OUT, "npy")) else _mk(os.path.join(OUT, "npy", "nhwc_x.npy")), nhwc)
    np.save(os.path.join(OUT, "npy", "nhwc_y.npy"), np.array([1, 0, 3, 3, 2], np.int64))
    np.save(os.path.join(OUT, "npy", "nhwc_expect.npy"), (nhwc.transpose(0, 3, 1, 2) / 255.0).astype(np.float32))
    nchw = rng.random((4, 1, 6, 6)).astype(np.float32)
    np.save(os.path.join(OUT, "npy", "planes_x.npy"), nchw)
    np.save(os.path.join(OUT, "npy", "planes_y.npy"), np.array([0, 1, 0, 1], np.int32))
    np.save(os.path.join(OUT, "npy", "planes_expect_3x4x4.npy"),
            np.stack([expect_tensor(im.transpose(1, 2, 0), 3, 4, 4, 0, (0, 0, 0), (1, 1, 1)) for im in nchw]))
    np.save(os.path.join(OUT, "npy", "badcount_x.npy"), nchw)
    np.save(os.path.join(OUT, "npy", "badcount_y.npy"), np.array([0, 1, 0], np.int64))
    np.save(os.path.join(OUT, "npy", "badlabel_x.npy"), nchw)
    np.save(os.path.join(OUT, "npy", "badlabel_y.npy"), np.array([0, 1, -1, 1], np.int64))
    # a corpus task: uint8 train split, float32 test split, class names
    d = os.path.join(OUT, "corpus", "tiny")
    os.makedirs(d, exist_ok=True)
    tr = rng.integers(0, 256, size=(6, 1, 4, 4), dtype=np.uint8)
    te = rng.random((3, 1, 4, 4)).astype(np.float32)
    np.save(os.path.join(d, "train_x.npy"), tr)
    np.save(os.path.join(d, "train_y.npy"), np.array([0, 1, 2, 0, 1, 2], np.int64))
    np.save(os.path.join(d, "test_x.npy"), te)
    np.save(os.path.join(d, "test_y.npy"), np.array([2, 1, 0], np.int64))
    with open(os.path.join(d, "classes.txt"), "w") as f:
        f.write("circle\nsquare\ntriangle\n")
    np.save(os.path.join(OUT, "corpus_tiny_train_expect.npy"), (tr / 255.0).astype(np.float32))


def _mk(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    return path


def gen_nested():
    """A class tree with sub-folders; the expected order is torchvision ImageFolder's."""
    from PIL import Image
    import torchvision
    base = os.path.join(OUT, "nested")
    px = io.BytesIO()
    Image.fromarray(np.full((2, 2), 7, np.uint8), "L").save(px, "PNG")
    for rel in ("cls/b.png", "cls/sub/a.png", "cls/sub-2/c.PNG", "cls/sub/x/d.jpeg", "cls/A.png", "Other/e.png",
                "Other/.hidden/f.png"):
        path = os.path.join(base, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            if rel.endswith(".jpeg"):
                b = io.BytesIO()
                Image.fromarray(np.full((2, 2), 7, np.uint8), "L").save(b, "JPEG")
                f.write(b.getvalue())
            else:
                f.write(px.getvalue())
    ds = torchvision.datasets.ImageFolder(base)
    lines = ["%d\t%s" % (y, os.path.relpath(p, base)) for p, y in ds.samples if "/." not in p]
    with open(os.path.join(OUT, "nested_expect.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    parts = sys.argv[1:] or ["idx", "digits", "images", "hier", "sampler", "spec", "nested"]
    for p in parts:
        globals()["gen_" + p]()
