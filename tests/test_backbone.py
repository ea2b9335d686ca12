"""The bundled EfficientNet-Lite0: ONNX matches PyTorch, predictions make sense, checksums guard the file."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from engine.model.backbone import Backbone, verify_model
from engine.errors import ModelCorrupt, ModelMissing
from engine.resources import ENV_VAR, backbone_model_path, resource_path

CLOTHING = Path(__file__).resolve().parents[2] / "shared" / "data" / "clothing10-dev"
TOL = 1e-4

# ImageNet classes (first lemma) that count as a sensible answer for a clothing10 label.
SENSIBLE = {
    "shoes": {"running shoe", "sandal", "Loafer", "clog", "cowboy boot", "shoe shop"},
    "t-shirt": {"jersey", "sweatshirt"},
    "shorts": {"swimming trunks", "jean", "miniskirt"},
}
MIN_TOP5_HIT = 0.8  # measured: shoes 29/30, t-shirt 30/30, shorts 30/30
MAX_SHOE_TOP1_ELSEWHERE = 0.1  # measured: 0/60 t-shirt and shorts photos get a shoe class first


def load_photo(path: Path) -> np.ndarray:
    """Decode as the app does: EXIF orientation, RGB, shorter side to 224 (bicubic), centre crop 224."""
    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im).convert("RGB")
        return np.asarray(ImageOps.fit(im, (224, 224), Image.Resampling.BICUBIC))


def clothing(label: str) -> list[Path]:
    if not (CLOTHING / "manifest.csv").is_file():
        pytest.skip(f"clothing10-dev data set not found at {CLOTHING}")
    with open(CLOTHING / "manifest.csv", newline="") as f:
        return [CLOTHING / r["path"] for r in csv.DictReader(f) if r["label"] == label]


@pytest.fixture(scope="module")
def backbone() -> Backbone:
    return Backbone(device="cpu")


@pytest.fixture(scope="module")
def photos() -> dict[str, np.ndarray]:
    return {label: np.stack([load_photo(p) for p in sorted(clothing(label))]) for label in SENSIBLE}


# ---- (a) parity with PyTorch ------------------------------------------------------------------------------------


@pytest.mark.train
def test_onnx_matches_pytorch(backbone, request):
    torch = pytest.importorskip("torch")
    from engine.model.export_backbone import load_torch_backbone

    rng = np.random.default_rng(0)
    parts = [rng.integers(0, 256, (4, 224, 224, 3), dtype=np.uint8)]
    if (CLOTHING / "manifest.csv").is_file():  # real photos too, when the data set is there
        photos = request.getfixturevalue("photos")
        parts += [photos[k][:2] for k in sorted(photos)]
    batch = np.concatenate(parts)
    model = load_torch_backbone()
    with torch.no_grad():
        t_feats, t_logits = (t.numpy() for t in model(torch.from_numpy(batch)))
    o_feats, o_logits = backbone.run(batch)
    assert o_feats.shape == (len(batch), 1280) and o_logits.shape == (len(batch), 1000)
    assert o_feats.dtype == np.float32 and o_logits.dtype == np.float32
    assert np.abs(o_feats - t_feats).max() < TOL
    assert np.abs(o_logits - t_logits).max() < TOL
    np.testing.assert_array_equal(backbone.embed(batch[:3]), o_feats[:3])  # batch size does not change results
    assert np.abs(backbone.predict(batch[3:5]) - o_logits[3:5]).max() < TOL


# ---- (b) predictions on real photos -----------------------------------------------------------------------------


def _top(backbone: Backbone, images: np.ndarray, k: int) -> list[list[str]]:
    return [[label.split(",")[0] for label, _ in row] for row in backbone.classify(images, topk=k)]


@pytest.mark.parametrize("label", sorted(SENSIBLE))
def test_top5_is_sensible(backbone, photos, label):
    tops = _top(backbone, photos[label], 5)
    hit = np.mean([bool(SENSIBLE[label] & set(row)) for row in tops])
    assert hit >= MIN_TOP5_HIT, f"{label}: sensible class in top-5 for only {hit:.0%} of photos: {tops}"


def test_shoe_classes_are_specific(backbone, photos):
    others = np.concatenate([photos["t-shirt"], photos["shorts"]])
    firsts = [row[0] for row in _top(backbone, others, 1)]
    rate = np.mean([c in SENSIBLE["shoes"] for c in firsts])
    assert rate <= MAX_SHOE_TOP1_ELSEWHERE, firsts


def test_classify_shape_and_probabilities(backbone, photos):
    rows = backbone.classify(photos["shoes"][:3], topk=5)
    assert len(rows) == 3 and all(len(r) == 5 for r in rows)
    for row in rows:
        probs = [p for _, p in row]
        assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-6
        assert all(isinstance(name, str) and name for name, _ in row)


def test_attributes_and_input_checks(backbone):
    assert (backbone.provider, backbone.dim, backbone.input_size) == ("CPUExecutionProvider", 1280, 224)
    assert len(backbone.labels) == 1000 and backbone.labels[770] == "running shoe"
    assert backbone.embed(np.zeros((0, 224, 224, 3), np.uint8)).shape == (0, 1280)
    with pytest.raises(ValueError):
        backbone.embed(np.zeros((1, 224, 224, 3), np.float32))
    with pytest.raises(ValueError):
        backbone.embed(np.zeros((224, 224, 3), np.uint8))


def test_cuda_request_falls_back_with_reason():
    b = Backbone(device="cuda")
    if b.provider == "CUDAExecutionProvider":
        pytest.skip("a usable CUDA GPU is present here")
    assert b.provider == "CPUExecutionProvider"
    assert "CUDA" in b.fallback_reason or "NVIDIA" in b.fallback_reason


# ---- (c) resources and checksums --------------------------------------------------------------------------------


def test_sidecar_checksum_matches_model():
    path = backbone_model_path()
    meta = json.loads(path.with_suffix(".json").read_text())
    assert hashlib.sha256(path.read_bytes()).hexdigest() == meta["sha256"]
    assert meta["opset"] == 17 and meta["input"]["name"] == "image"
    assert meta["normalization"]["formula"] == "(x - 127) / 128"
    assert meta["source"]["license"] == "Apache-2.0"
    classes = resource_path("models", "imagenet_classes.txt")
    assert hashlib.sha256(classes.read_bytes()).hexdigest() == meta["classes"]["sha256"]


def _copy_model(dst: Path) -> Path:
    src = backbone_model_path()
    dst.mkdir(parents=True, exist_ok=True)
    shutil.copy(src, dst / src.name)
    shutil.copy(src.with_suffix(".json"), dst / src.with_suffix(".json").name)
    return dst / src.name


def test_corrupted_copy_raises_model_corrupt(tmp_path):
    model = _copy_model(tmp_path / "models")
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte inside the weights still parses as ONNX
    model.write_bytes(bytes(data))
    with pytest.raises(ModelCorrupt, match="sha256"):
        Backbone(model)
    with pytest.raises(ModelCorrupt):
        verify_model(model)


def test_missing_sidecar_or_model_raises_model_missing(tmp_path):
    model = _copy_model(tmp_path / "models")
    model.with_suffix(".json").unlink()
    with pytest.raises(ModelMissing, match="Checksum file"):
        Backbone(model)
    with pytest.raises(ModelMissing):
        Backbone(tmp_path / "nowhere.onnx")


def test_resource_env_override(tmp_path, monkeypatch):
    _copy_model(tmp_path / "models")
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    assert backbone_model_path() == tmp_path / "models" / "efficientnet_lite0.onnx"
    with pytest.raises(ModelMissing, match="imagenet_classes.txt"):
        resource_path("models", "imagenet_classes.txt")
    with pytest.raises(ValueError):
        resource_path("..", "pyproject.toml")
