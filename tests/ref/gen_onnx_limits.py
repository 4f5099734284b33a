#!/usr/bin/python3
"""Writes the ONNX models of the importer's resource limits under tests/ref/onnx_limits/
(run: /usr/bin/python3 tests/ref/gen_onnx_limits.py; python3-onnx builds them by hand).

  folded_bomb.onnx   x (N, 4) -> Relu -> y, plus 80 unused ConstantOfShape nodes of
                     4096 x 4096 floats: 6 KB that asked the folder for 5 GB; must be
                     refused by the total folded-constant limit (XF_ONNX_MAX_FOLD_BYTES).
  folded_small.onnx  the same with 8 ConstantOfShape nodes of 64 x 64: far under the
                     limit, must import.
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "onnx_limits")


def model(count, side):
    nodes = [helper.make_node("Relu", ["x"], ["y"], name="relu")]
    shp = numpy_helper.from_array(np.array([side, side], dtype=np.int64), "shape")
    for i in range(count):
        nodes.append(helper.make_node("ConstantOfShape", ["shape"], [f"c{i}"], name=f"fill{i}",
                                      value=helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0])))
    g = helper.make_graph(nodes, "folded", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])], initializer=[shp])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], producer_name="gen_onnx_limits")
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def main():
    os.makedirs(OUT, exist_ok=True)
    onnx.save(model(80, 4096), os.path.join(OUT, "folded_bomb.onnx"))
    onnx.save(model(8, 64), os.path.join(OUT, "folded_small.onnx"))


if __name__ == "__main__":
    main()
