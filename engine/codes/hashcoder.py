"""Run an exported DistillHash head with ONNX Runtime over cached backbone features (no torch).

The ``.onnx`` is written by ``engine.learning.export_hash.export_head``: input ``features`` float32 [N, d] (raw backbone
features; L2 normalisation is inside the graph), output ``logits`` float32 [N, bits]; bit i of a code is
``logits[:, i] > 0``, packed like ``engine.codes.binary.pack_signs``. Same interface as ``engine.codes.binary.LinearCoder``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import numpy.typing as npt

from engine.codes.binary import pack_signs
from engine.errors import ModelCorrupt, ModelMissing

__all__ = ["HashCoder"]

INPUT_NAME = "features"
OUTPUT_NAME = "logits"


class HashCoder:
    """Binary codes from backbone features with a trained hash head in ONNX Runtime.

    Args:
        onnx_path: the exported head.
        threads: ONNX Runtime intra-op threads (0 = its default).
    """

    kind = "distillhash"

    def __init__(self, onnx_path: str | os.PathLike, threads: int = 0):
        import onnxruntime as ort

        self.path = Path(onnx_path)
        if not self.path.is_file():
            raise ModelMissing(f"hash model {self.path} does not exist")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.log_severity_level = 3
        try:
            # The head is a few matrix products: the CPU is faster than a trip to a GPU and always there.
            self._session = ort.InferenceSession(str(self.path), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for bad files
            raise ModelCorrupt(f"hash model {self.path} cannot be loaded: {exc}") from exc
        inputs = {i.name: i for i in self._session.get_inputs()}
        outputs = {o.name: o for o in self._session.get_outputs()}
        if INPUT_NAME not in inputs or OUTPUT_NAME not in outputs:
            raise ModelCorrupt(f"hash model {self.path} lacks the '{INPUT_NAME}' -> '{OUTPUT_NAME}' signature")
        self.in_dim = int(inputs[INPUT_NAME].shape[1])
        self._bits = int(outputs[OUTPUT_NAME].shape[1])

    @property
    def bits(self) -> int:
        return self._bits

    def project(self, features: npt.ArrayLike, batch: int = 65536) -> npt.NDArray[np.float32]:
        """Pre-sign outputs (n, bits) of the head."""
        x = np.asarray(features)
        if x.ndim != 2 or x.shape[1] != self.in_dim:
            raise ValueError(f"expected features of shape (n, {self.in_dim}), got {x.shape}")
        out = np.empty((len(x), self.bits), dtype=np.float32)
        for start in range(0, len(x), batch):
            chunk = np.ascontiguousarray(x[start : start + batch], dtype=np.float32)
            out[start : start + len(chunk)] = self._session.run([OUTPUT_NAME], {INPUT_NAME: chunk})[0]
        return out

    def encode(self, features: npt.ArrayLike, batch: int = 65536) -> npt.NDArray[np.uint8]:
        """Packed binary codes (n, bits // 8)."""
        x = np.asarray(features)
        out = np.empty((len(x), self.bits // 8), dtype=np.uint8)
        for start in range(0, len(x), batch):
            out[start : start + batch] = pack_signs(self.project(x[start : start + batch]))
        return out
