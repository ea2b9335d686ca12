"""Export a trained DistillHash head (alone, or behind the backbone) to ONNX and check it against PyTorch.

Two graphs:
- the head, ``features`` float32 [N, d] (raw backbone features; L2 normalisation is inside the graph, as in
  ``LinearCoder.project``) -> ``logits`` float32 [N, bits], pre-sign. The engine runs it over cached features
  with ``engine.codes.hashcoder.HashCoder``.
- the encoder, ``image`` uint8 [N, 224, 224, 3] (RGB, NHWC, as ``engine.images.decode`` gives) -> ``logits``: backbone and
  head in one graph, for encoding photos that have no cached features.
Both are written to a temporary file beside the target and moved into place with ``os.replace``.
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from engine.errors import SimiliError

if TYPE_CHECKING:
    from engine.learning.train import TrainResult

__all__ = ["export_head", "export_encoder", "check_parity", "ParityError", "OPSET"]

log = logging.getLogger(__name__)

OPSET = 17
PARITY_ATOL = 1e-4


class ParityError(SimiliError):
    """The exported ONNX model does not compute what the PyTorch model computes."""


def _head_module(result: TrainResult):
    from engine.learning.train import build_head

    head = build_head(result.in_dim, result.bits, result.hidden)
    head.load_state_dict(result.state_dict)
    return head.eval()


def _encoder_module(result: TrainResult):
    import torch

    from engine.model.export_backbone import load_torch_backbone

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.backbone = load_torch_backbone()
            self.head = _head_module(result)

        def forward(self, image):
            return self.head(self.backbone(image)[0])

    return Encoder().eval()


def _export(module, dummy, input_name: str, out_path: str | os.PathLike) -> Path:
    import onnx
    import torch

    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            # The TorchScript exporter is deprecated in favour of dynamo, which needs onnxscript (not shipped).
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(
                module, (dummy,), str(tmp),
                dynamo=False,  # the TorchScript exporter needs no onnxscript and is deterministic
                opset_version=OPSET,
                input_names=[input_name], output_names=["logits"],
                dynamic_axes={input_name: {0: "batch"}, "logits": {0: "batch"}},
                do_constant_folding=True, export_params=True,
            )
        onnx.checker.check_model(str(tmp), full_check=True)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    log.info("wrote %s", out)
    return out


def export_head(result: TrainResult, out_path: str | os.PathLike) -> Path:
    """Write the hash head as ONNX: ``features`` float32 [N, d] -> ``logits`` float32 [N, bits] (pre-sign).

    Returns:
        The written path.
    """
    import torch

    return _export(_head_module(result), torch.randn(2, result.in_dim), "features", out_path)


def export_encoder(result: TrainResult, out_path: str | os.PathLike) -> Path:
    """Write backbone + head as one ONNX graph: ``image`` uint8 [N, 224, 224, 3] -> ``logits`` [N, bits]."""
    import torch

    dummy = torch.zeros(2, 224, 224, 3, dtype=torch.uint8)
    return _export(_encoder_module(result), dummy, "image", out_path)


def check_parity(result: TrainResult, onnx_path: str | os.PathLike, inputs: npt.ArrayLike,
                 atol: float = PARITY_ATOL) -> dict[str, float]:
    """Compare PyTorch and ONNX Runtime pre-sign outputs on ``inputs``.

    ``inputs`` are features (float, [N, d]) for a head file and uint8 images [N, 224, 224, 3] for an encoder file
    (the graph's input name decides). Passes when the largest absolute difference is below ``atol`` and every bit
    agrees, except bits whose PyTorch value lies within ``atol`` of zero (there the sign is a coin toss of
    floating-point order).

    Returns:
        ``max_abs_diff``, ``bits_differ`` (outside the tolerance band), ``near_zero`` (values within it), ``n``.

    Raises:
        ParityError: when either condition fails.
    """
    import onnxruntime as ort
    import torch

    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    if name == "image":
        x = np.ascontiguousarray(inputs, dtype=np.uint8)
        module = _encoder_module(result)
    else:
        x = np.ascontiguousarray(inputs, dtype=np.float32)
        module = _head_module(result)
    with torch.no_grad():
        ref = module(torch.from_numpy(x)).numpy()
    got = sess.run(["logits"], {name: x})[0]
    diff = float(np.max(np.abs(ref - got))) if ref.size else 0.0
    band = np.abs(ref) < atol
    differ = int(np.count_nonzero(((ref > 0) != (got > 0)) & ~band))
    report = {"max_abs_diff": diff, "bits_differ": float(differ), "near_zero": float(band.sum()), "n": float(len(x))}
    if not diff < atol or differ:
        raise ParityError(f"ONNX model {Path(onnx_path).name} differs from PyTorch: max |diff| {diff:.2e}, "
                          f"{differ} bits differ (tolerance {atol:g})")
    return report
