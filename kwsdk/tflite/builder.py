"""A minimal TFLite flatbuffer writer: tensors, builtin operators, one subgraph.

Built on the object API of the TFLite schema as `ai-edge-litert` (or
`tflite-micro`) ships it, so no TensorFlow is needed. Device-safe: numpy and
flatbuffers only.
"""

from __future__ import annotations

import numpy as np


def schema():
    """The generated TFLite schema module of whichever runtime is installed."""
    try:
        from ai_edge_litert import schema_py_generated as s
    except ImportError:
        try:
            from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as s
        except ImportError as e:
            raise ImportError("TFLite export needs ai-edge-litert or tflite-micro: "
                              "pip install 'kwsdk[tflite]'") from e
    return s


_TYPES = {np.dtype(np.float32): "FLOAT32", np.dtype(np.int8): "INT8", np.dtype(np.int16): "INT16",
          np.dtype(np.int32): "INT32", np.dtype(np.int64): "INT64"}


class Graph:
    """One subgraph under construction. Tensors are referred to by index."""

    def __init__(self):
        self.s = schema()
        self.tensors: list = []
        self.buffers: list = [self.s.BufferT()]  # buffer 0: the empty sentinel
        self.ops: list = []
        self.opcodes: dict[int, int] = {}  # builtin code -> index in operatorCodes
        self.inputs: list[int] = []
        self.outputs: list[int] = []

    def tensor(self, name: str, shape, dtype, data: np.ndarray | None = None,
               scale=None, zero_point=None, quantized_dimension: int = 0) -> int:
        """Add a tensor; `data` makes it a constant; `scale` (scalar or per
        channel) makes it quantized with zero point 0 unless given."""
        s = self.s
        t = s.TensorT()
        t.name = name
        t.shape = [int(d) for d in shape]
        dtype = np.dtype(dtype)
        t.type = getattr(s.TensorType, _TYPES[dtype])
        if data is not None:
            arr = np.ascontiguousarray(np.asarray(data).astype(dtype.newbyteorder("<")))
            if arr.shape != tuple(t.shape):
                raise ValueError(f"tensor {name}: data shape {arr.shape} != {tuple(t.shape)}")
            b = s.BufferT()
            b.data = np.frombuffer(arr.tobytes(), np.uint8)
            self.buffers.append(b)
            t.buffer = len(self.buffers) - 1
        if scale is not None:
            scales = np.atleast_1d(np.asarray(scale, np.float64))
            q = s.QuantizationParametersT()
            q.scale = [float(v) for v in scales]
            zp = np.zeros(len(scales), np.int64) if zero_point is None else np.atleast_1d(zero_point)
            q.zeroPoint = [int(v) for v in zp]
            q.quantizedDimension = quantized_dimension
            t.quantization = q
        self.tensors.append(t)
        return len(self.tensors) - 1

    def op(self, name: str, inputs: list[int], outputs: list[int], options=None) -> None:
        """Add builtin operator `name` (e.g. "FULLY_CONNECTED"); `options` is
        the matching *OptionsT object, or None."""
        s = self.s
        code = getattr(s.BuiltinOperator, name)
        if code not in self.opcodes:
            self.opcodes[code] = len(self.opcodes)
        o = s.OperatorT()
        o.opcodeIndex = self.opcodes[code]
        o.inputs, o.outputs = list(inputs), list(outputs)
        if options is not None:
            o.builtinOptionsType = getattr(s.BuiltinOptions, type(options).__name__[:-1])
            o.builtinOptions = options
        self.ops.append(o)

    def serialize(self, description: str, metadata: dict[str, bytes] | None = None) -> bytes:
        """The model flatbuffer; `metadata` entries are stored as named buffers
        (runtimes ignore names they do not know)."""
        import flatbuffers

        s = self.s
        entries = []
        for name, blob in (metadata or {}).items():
            b = s.BufferT()
            b.data = np.frombuffer(blob, np.uint8)
            self.buffers.append(b)
            e = s.MetadataT()
            e.name, e.buffer = name, len(self.buffers) - 1
            entries.append(e)
        sg = s.SubGraphT()
        sg.tensors, sg.operators = self.tensors, self.ops
        sg.inputs, sg.outputs = self.inputs, self.outputs
        sg.name = "main"
        codes = []
        for code, _ in sorted(self.opcodes.items(), key=lambda kv: kv[1]):
            c = s.OperatorCodeT()
            c.builtinCode = code
            c.deprecatedBuiltinCode = min(code, 127)  # the field old readers use; 127: see builtinCode
            c.version = 1
            codes.append(c)
        m = s.ModelT()
        m.version = 3
        m.description = description
        m.operatorCodes, m.subgraphs, m.buffers = codes, [sg], self.buffers
        m.metadata = entries or None
        b = flatbuffers.Builder(1024)
        b.Finish(m.Pack(b), file_identifier=b"TFL3")
        return bytes(b.Output())
