#!/usr/bin/env python3
"""Writes .npy fixtures for tests/unit/test_npy.c with NumPy: every supported dtype, C and
Fortran order, big-endian, format versions 1.0/2.0/3.0, plus the bad-file table."""
import os
import numpy as np
from numpy.lib import format as npf

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "npy")
os.makedirs(here, exist_ok=True)
base = np.arange(24, dtype=np.float64).reshape(2, 3, 4) * 0.5 - 3.0
for dt in ["f2", "f4", "f8", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8"]:
    a = np.abs(base).astype("<" + dt) if dt[0] == "u" else base.astype("<" + dt)
    np.save(os.path.join(here, f"good_{dt}.npy"), a)
np.save(os.path.join(here, "good_bool.npy"), (np.arange(24).reshape(2, 3, 4) % 3 == 0))
np.save(os.path.join(here, "good_fortran.npy"), np.asfortranarray(base.astype(np.float32)))
np.save(os.path.join(here, "good_bigendian.npy"), base.astype(">f8"))
np.save(os.path.join(here, "good_scalar.npy"), np.float32(7.25))
np.save(os.path.join(here, "good_empty.npy"), np.zeros((0, 5), np.float32))
for ver in [(2, 0), (3, 0)]:
    with open(os.path.join(here, f"good_v{ver[0]}.npy"), "wb") as f:
        npf.write_array(f, base.astype(np.float32), version=ver)
# the values every good file holds, as float64, in C order
np.save(os.path.join(here, "expect_f8.npy"), base)

def raw(name, b):
    with open(os.path.join(here, name), "wb") as f:
        f.write(b)

good = open(os.path.join(here, "good_f4.npy"), "rb").read()
hl = good[8] | (good[9] << 8)
hdr = good[10:10 + hl]
def with_header(h, data=good[10 + hl:]):
    h = h.ljust(((len(h) + 10 + 64) // 64) * 64 - 10 - 1) + b"\n"
    return b"\x93NUMPY\x01\x00" + bytes([len(h) & 255, len(h) >> 8]) + h + data
raw("bad_magic.npy", b"\x93NUMPX" + good[6:])
raw("bad_version.npy", good[:6] + b"\x04\x00" + good[8:])
raw("bad_truncated_data.npy", good[:-10])
raw("bad_truncated_header.npy", good[:30])
raw("bad_trailing.npy", good + b"\0" * 8)
raw("bad_dtype.npy", with_header(b"{'descr': '<c8', 'fortran_order': False, 'shape': (2, 3, 4), }"))
raw("bad_structured.npy", with_header(b"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }"))
raw("bad_shape_overflow.npy", with_header(b"{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4611686018427387904), }"))
raw("bad_shape_huge.npy", with_header(b"{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000, 1000), }"))
raw("bad_missing_key.npy", with_header(b"{'descr': '<f4', 'shape': (2, 3, 4), }"))
raw("bad_dup_key.npy", with_header(b"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), }"))
raw("bad_not_dict.npy", with_header(b"['descr', '<f4']"))
raw("bad_header_len.npy", good[:8] + b"\xff\xff" + good[10:])
raw("bad_empty.npy", b"")
raw("bad_neg_shape.npy", with_header(b"{'descr': '<f4', 'fortran_order': False, 'shape': (-2, 3, 4), }"))
raw("bad_fortran_value.npy", with_header(b"{'descr': '<f4', 'fortran_order': 1, 'shape': (2, 3, 4), }"))
print("npy fixtures written to", here)
