"""Copy the backbone's ImageNet classifier out of the exported ONNX model (a build-time tool, needs ``onnx``).

The classifier is the graph's last node, a ``Gemm``: ``logits = features @ W.T + b``. Word search
(``engine.words.concepts``) applies it to the feature cache, so a library indexed once can be searched by words
without decoding a photo again. The weights are stored as one float16 ``.npy`` matrix ``[1000, 1281]`` (``W``
with ``b`` as the last column), plain numbers that ``numpy.load(..., allow_pickle=False)`` reads, and a JSON
sidecar with its checksum and the parity measured here against the float32 head.

Usage::

    python -m engine.model.export_head --onnx resources/models/efficientnet_lite0.onnx
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

from engine._atomic import sha256_file

__all__ = ["HEAD_FILE", "read_head", "export", "main"]

HEAD_FILE = "imagenet_head.npy"


def read_head(onnx_path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """``(W [1000, 1280], b [1000])`` in float32 from the model's final ``Gemm`` node (``logits`` output)."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(os.fspath(onnx_path)).graph
    gemm = next((n for n in graph.node if n.op_type == "Gemm" and "logits" in n.output), None)
    if gemm is None:
        raise ValueError(f"{onnx_path} has no Gemm node producing 'logits'")
    trans_b = next((a.i for a in gemm.attribute if a.name == "transB"), 0)
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    weight, bias = inits[gemm.input[1]].astype(np.float32), inits[gemm.input[2]].astype(np.float32)
    return (weight if trans_b else weight.T), bias


def export(onnx_path: str | os.PathLike[str], out_dir: str | os.PathLike[str] | None = None) -> Path:
    """Write ``imagenet_head.npy`` and ``imagenet_head.json`` next to the model (or into ``out_dir``)."""
    onnx_path = Path(onnx_path)
    out = Path(out_dir or onnx_path.parent) / HEAD_FILE
    weight, bias = read_head(onnx_path)
    packed = np.concatenate([weight, bias[:, None]], axis=1).astype(np.float16)
    np.save(out, packed, allow_pickle=False)
    # Parity of the float16 copy on features shaped like the real ones (non-negative, the swish/clip output).
    rng = np.random.default_rng(0)
    feats = np.abs(rng.standard_normal((256, weight.shape[1]))).astype(np.float32)
    exact = feats @ weight.T + bias
    approx = feats @ packed[:, :-1].astype(np.float32).T + packed[:, -1].astype(np.float32)
    meta = {
        "file": HEAD_FILE,
        "sha256": sha256_file(out),
        "bytes": out.stat().st_size,
        "shape": list(packed.shape),
        "dtype": "float16",
        "layout": "row c = classifier weights of ImageNet class c (logit order), last column = bias",
        "formula": "logits = features @ M[:, :-1].T + M[:, -1]",
        "source": {"model": onnx_path.name, "model_sha256": sha256_file(onnx_path), "node": "Gemm -> logits"},
        "parity": {"max_abs_logit_error": float(np.abs(exact - approx).max()),
                   "top1_agreement": float((exact.argmax(1) == approx.argmax(1)).mean()),
                   "on": "256 random non-negative feature vectors"},
    }
    out.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--onnx", default="resources/models/efficientnet_lite0.onnx", help="the exported backbone")
    args = parser.parse_args(argv)
    out = export(args.onnx)
    print(out.with_suffix(".json").read_text(encoding="utf-8"), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
