"""A small ONNX interpreter on torch operations, for the operators the exported CLIP graphs use.

onnxruntime is not available to the export tooling, so this is how the exported graphs are run
before they reach the C# side: it catches export faults such as a batch size or image size baked
into a Reshape at trace time. It follows the ONNX operator specification (opset 14) for the
operators below and raises on any other operator or attribute it does not implement.
"""

from __future__ import annotations

from typing import Callable, Dict, List

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper

DTYPES = {onnx.TensorProto.FLOAT: torch.float32, onnx.TensorProto.DOUBLE: torch.float64,
          onnx.TensorProto.INT64: torch.int64, onnx.TensorProto.INT32: torch.int32, onnx.TensorProto.BOOL: torch.bool}
OPS: Dict[str, Callable] = {}


def op(*names: str):
    def register(fn):
        for name in names:
            OPS[name] = fn
        return fn
    return register


def _pads_for_torch(pads: List[int]) -> List[int]:
    """ONNX [b1, b2, ..., e1, e2, ...] (first axis first) -> torch (last axis first, begin/end pairs)."""
    n = len(pads) // 2
    out = []
    for axis in reversed(range(n)):
        out += [pads[axis], pads[axis + n]]
    return out


def _spatial_pads(a: dict, rank: int):
    pads = list(a.get("pads", [0] * 2 * rank))
    if pads[:rank] == pads[rank:]:
        return tuple(pads[:rank]), None
    return (0,) * rank, _pads_for_torch(pads)


@op("Conv")
def _conv(x, w, b=None, **a):
    if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise NotImplementedError("Conv auto_pad")
    padding, explicit = _spatial_pads(a, w.dim() - 2)
    if explicit:
        x = F.pad(x, explicit)
    return F.conv2d(x, w, b, stride=tuple(a.get("strides", [1, 1])), padding=padding,
                    dilation=tuple(a.get("dilations", [1, 1])), groups=a.get("group", 1))


@op("AveragePool")
def _avg_pool(x, **a):
    padding, explicit = _spatial_pads(a, 2)
    if explicit:
        raise NotImplementedError("AveragePool with asymmetric pads")
    return F.avg_pool2d(x, tuple(a["kernel_shape"]), tuple(a.get("strides", [1, 1])), padding,
                        ceil_mode=bool(a.get("ceil_mode", 0)), count_include_pad=bool(a.get("count_include_pad", 0)))


@op("Pad")
def _pad(x, pads, value=None, **a):
    if a.get("mode", b"constant") not in (b"constant", "constant"):
        raise NotImplementedError("Pad mode")
    return F.pad(x, _pads_for_torch(pads.tolist()), value=0.0 if value is None else float(value))


@op("Gemm")
def _gemm(a_, b_, c=None, **a):
    a_ = a_.t() if a.get("transA", 0) else a_
    b_ = b_.t() if a.get("transB", 0) else b_
    y = a.get("alpha", 1.0) * (a_ @ b_)
    return y if c is None else y + a.get("beta", 1.0) * c


def _div(x, y):
    return torch.div(x, y, rounding_mode="trunc") if not x.is_floating_point() else x / y


def _gather(data, indices, axis=0):
    axis = axis % data.dim()
    flat = indices.reshape(-1) % data.shape[axis]
    out = data.index_select(axis, flat)
    return out.reshape(data.shape[:axis] + indices.shape + data.shape[axis + 1:])


def _reshape(x, shape, allowzero=0):
    target = [x.shape[i] if (s == 0 and not allowzero) else s for i, s in enumerate(shape.tolist())]
    return x.reshape(target)


def _slice(x, starts, ends, axes=None, steps=None):
    axes = list(range(len(starts))) if axes is None else axes.tolist()
    steps = [1] * len(axes) if steps is None else steps.tolist()
    index = [slice(None)] * x.dim()
    for s, e, ax, st in zip(starts.tolist(), ends.tolist(), axes, steps):
        if st <= 0:
            raise NotImplementedError("Slice with non-positive steps")
        index[ax] = slice(s, e, st)
    return x[tuple(index)]


def _reduce_mean(x, axes=None, keepdims=1):
    return x.mean(dim=tuple(axes), keepdim=bool(keepdims)) if axes else x.mean()


def _argmax(x, axis=0, keepdims=1, select_last_index=0):
    if select_last_index:
        raise NotImplementedError("ArgMax select_last_index")
    return x.argmax(dim=axis, keepdim=bool(keepdims))


def _constant_of_shape(shape, value=None):
    fill = torch.zeros(1) if value is None else torch.from_numpy(numpy_helper.to_array(value).copy())
    return torch.full(shape.tolist(), fill.item(), dtype=fill.dtype)


def _expand(x, shape):
    return x.expand(torch.broadcast_shapes(x.shape, tuple(shape.tolist())))


OPS.update({
    "Relu": lambda x: torch.relu(x), "Sigmoid": torch.sigmoid, "Sqrt": torch.sqrt, "Identity": lambda x: x,
    "Add": torch.add, "Sub": torch.sub, "Mul": torch.mul, "Div": _div, "Pow": torch.pow, "MatMul": torch.matmul,
    "Equal": torch.eq, "Where": torch.where, "Shape": lambda x: torch.tensor(x.shape, dtype=torch.int64),
    "Concat": lambda *xs, axis: torch.cat(xs, dim=axis), "Transpose": lambda x, perm: x.permute(perm),
    "Unsqueeze": lambda x, axes: _unsqueeze(x, axes.tolist()), "Squeeze": lambda x, axes: x.squeeze(tuple(axes.tolist())),
    "Cast": lambda x, to: x.to(DTYPES[to]), "Softmax": lambda x, axis=-1: torch.softmax(x, dim=axis),
    "Gather": _gather, "GatherElements": lambda x, i, axis=0: torch.gather(x, axis, i), "Reshape": _reshape,
    "Slice": _slice, "ReduceMean": _reduce_mean, "ArgMax": _argmax, "ConstantOfShape": _constant_of_shape,
    "Expand": _expand,
})


def _unsqueeze(x, axes):
    rank = x.dim() + len(axes)
    for axis in sorted(a % rank for a in axes):
        x = x.unsqueeze(axis)
    return x


def _attributes(node) -> dict:
    out = {}
    for attr in node.attribute:
        value = onnx.helper.get_attribute_value(attr)
        out[attr.name] = value.decode() if isinstance(value, bytes) else value
    return out


def run(model: onnx.ModelProto, feeds: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """Evaluates the graph on the given inputs; returns every graph output as a numpy array."""
    values: Dict[str, torch.Tensor] = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy())
                                       for t in model.graph.initializer}
    values.update({name: torch.from_numpy(np.ascontiguousarray(a)) for name, a in feeds.items()})
    with torch.no_grad():
        for node in model.graph.node:
            attrs = _attributes(node)
            if node.op_type == "Constant":
                if set(attrs) != {"value"}:
                    raise NotImplementedError(f"Constant with {sorted(attrs)}")
                outputs = [torch.from_numpy(numpy_helper.to_array(attrs["value"]).copy())]
            else:
                if node.op_type not in OPS:
                    raise NotImplementedError(f"operator {node.op_type} (node {node.name})")
                inputs = [values[n] if n else None for n in node.input]
                result = OPS[node.op_type](*inputs, **attrs)
                outputs = list(result) if isinstance(result, tuple) else [result]
            for name, value in zip(node.output, outputs):
                values[name] = value
    return {o.name: values[o.name].numpy() for o in model.graph.output}
