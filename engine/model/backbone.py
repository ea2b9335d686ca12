"""The pretrained image backbone at run time: EfficientNet-Lite0 in ONNX Runtime, no torch.

The model takes uint8 RGB images ``[N, 224, 224, 3]`` (resize and crop happen before, normalisation happens
inside the graph) and gives 1280-d features and ImageNet-1k logits. The ``.onnx`` is built by
``engine.model.export_backbone`` and checked against the sha256 in its JSON sidecar before first use.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from engine._atomic import sha256_file
from engine.errors import ModelCorrupt, ModelMissing
from engine.resources import backbone_model_path, resource_path

if TYPE_CHECKING:
    import onnxruntime

__all__ = ["Backbone", "verify_model", "sidecar_path", "Images", "Features", "Logits"]

log = logging.getLogger(__name__)

Images = npt.NDArray[np.uint8]
Features = npt.NDArray[np.float32]
Logits = npt.NDArray[np.float32]

_CPU = "CPUExecutionProvider"
_CUDA = "CUDAExecutionProvider"
_DEVICES = ("auto", "cpu", "cuda")
_CLASSES_FILE = "imagenet_classes.txt"

# (resolved path, size, mtime_ns) of model files whose checksum matched, so each is hashed once per process.
_verified: set[tuple[str, int, int]] = set()
_verified_lock = threading.Lock()


def sidecar_path(model_path: str | os.PathLike) -> Path:
    """The JSON sidecar of a model: same folder, same stem, ``.json``."""
    return Path(model_path).with_suffix(".json")


def verify_model(model_path: str | os.PathLike) -> dict:
    """Check a model file against the sha256 in its sidecar (hashing it once per process).

    Args:
        model_path: the ``.onnx`` file.

    Returns:
        The parsed sidecar.

    Raises:
        ModelMissing: the model or its sidecar does not exist.
        ModelCorrupt: the sidecar is unreadable or the checksum does not match.
    """
    path = Path(model_path)
    side = sidecar_path(path)
    if not path.is_file():
        raise ModelMissing(f"Model file {path} does not exist. Reinstall Simili to restore it.")
    if not side.is_file():
        raise ModelMissing(f"Checksum file {side} for model {path.name} is missing. Reinstall Simili to restore it.")
    try:
        meta = json.loads(side.read_text(encoding="utf-8"))
        expected = str(meta["sha256"]).lower()
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelCorrupt(f"Checksum file {side} is unreadable ({exc}). Reinstall Simili to restore it.") from exc
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    with _verified_lock:
        if key in _verified:
            return meta
    actual = sha256_file(path)
    if actual != expected:
        raise ModelCorrupt(
            f"Model file {path} is damaged or was changed: its sha256 is {actual[:12]}..., "
            f"expected {expected[:12]}... ({side.name}). Reinstall Simili to restore it."
        )
    with _verified_lock:
        _verified.add(key)
    return meta


def _import_onnxruntime():
    # Imported here, not at module level, so `import engine` stays cheap.
    import onnxruntime

    return onnxruntime


def _cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def _nvidia_driver_present() -> bool:
    """Cheap check for an NVIDIA driver, so machines without one never try (and log) a CUDA start."""
    if sys.platform.startswith("linux"):
        return os.path.exists("/proc/driver/nvidia/version")
    if sys.platform == "win32":
        import ctypes.util

        return ctypes.util.find_library("nvcuda") is not None
    return False


class Backbone:
    """EfficientNet-Lite0 features and ImageNet predictions through ONNX Runtime.

    Args:
        model_path: the ``.onnx`` file; default: the bundled ``resources/models/efficientnet_lite0.onnx``.
        device: ``"auto"`` (CUDA when ONNX Runtime offers it, else CPU), ``"cuda"`` (falls back to CPU,
            with the reason in ``fallback_reason``) or ``"cpu"``.
        threads: intra-op threads; default: the CPUs this process may use.
        verify: check the sha256 against the sidecar before loading (once per process per file).
        spin: let idle ONNX Runtime threads busy-wait between ops. Off by default: on a few cores shared
            with decoder threads (and other apps) spinning threads take CPU from them; see
            ``bench/model_speed.py`` for both settings.

    Attributes:
        provider: the execution provider that runs the model, e.g. ``"CPUExecutionProvider"``.
        fallback_reason: why CUDA was asked for but not used, else None.
        dim: feature size (1280).
        input_size: image side in pixels (224).
        num_classes: logit count (1000).
        model_path: the loaded file.
    """

    def __init__(
        self,
        model_path: str | os.PathLike | None = None,
        device: str = "auto",
        threads: int | None = None,
        *,
        verify: bool = True,
        spin: bool = False,
    ):
        if device not in _DEVICES:
            raise ValueError(f"device must be one of {_DEVICES}, not {device!r}")
        self.model_path = Path(model_path) if model_path is not None else backbone_model_path()
        if not self.model_path.is_file():
            raise ModelMissing(f"Model file {self.model_path} does not exist.")
        if verify:
            verify_model(self.model_path)
        ort = _import_onnxruntime()
        self.fallback_reason: str | None = None
        providers = self._choose_providers(ort, device)
        self.threads = threads if threads and threads > 0 else _cpu_count()
        self.spin = spin
        if providers[0] == _CUDA:
            # A GPU build without the CUDA/cuDNN runtime prints an error while it falls back; the fallback is
            # expected on most machines, so it is reported through `fallback_reason` instead.
            ort.set_default_logger_severity(4)
        try:
            self._session = ort.InferenceSession(
                str(self.model_path), sess_options=self._session_options(ort), providers=providers
            )
        finally:
            ort.set_default_logger_severity(3)
        self.provider: str = self._session.get_providers()[0]
        if providers[0] == _CUDA and self.provider != _CUDA:
            self.fallback_reason = ("an NVIDIA driver is present but ONNX Runtime could not load the CUDA runtime "
                                    "it needs (CUDA and cuDNN libraries); using the CPU")
        if self.fallback_reason:
            log.log(logging.WARNING if device == "cuda" else logging.INFO, "backbone: %s", self.fallback_reason)
        inp = self._session.get_inputs()[0]
        self._input_name = inp.name
        self.input_size: int = int(inp.shape[1])
        shapes = {o.name: o.shape for o in self._session.get_outputs()}
        self.dim: int = int(shapes["features"][1])
        self.num_classes: int = int(shapes["logits"][1])
        self._labels: list[str] | None = None
        log.info("backbone %s on %s, %d threads", self.model_path.name, self.provider, self.threads)

    def _choose_providers(self, ort, device: str) -> list[str]:
        if device == "cpu":
            return [_CPU]
        available = ort.get_available_providers()
        if _CUDA in available and _nvidia_driver_present():
            return [_CUDA, _CPU]
        if _CUDA in available:
            self.fallback_reason = "no NVIDIA GPU driver was found; using the CPU"
            return [_CPU]
        if device == "cuda":
            self.fallback_reason = (
                f"CUDA was requested but this onnxruntime has no CUDAExecutionProvider "
                f"(available: {', '.join(available)}); install onnxruntime-gpu to use the GPU. Using CPU."
            )
        return [_CPU]

    def _session_options(self, ort) -> onnxruntime.SessionOptions:
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL  # one chain of convs: nothing to run in parallel
        so.intra_op_num_threads = self.threads
        so.inter_op_num_threads = 1
        so.add_session_config_entry("session.intra_op.allow_spinning", "1" if self.spin else "0")
        so.log_severity_level = 3  # errors only; provider fallbacks are reported through `fallback_reason`
        return so

    def _check(self, batch: Images) -> Images:
        a = np.asarray(batch)
        s = self.input_size
        if a.dtype != np.uint8 or a.ndim != 4 or a.shape[1:] != (s, s, 3):
            raise ValueError(f"expected uint8 images of shape [N, {s}, {s}, 3], got {a.dtype} {a.shape}")
        return np.ascontiguousarray(a)

    def run(self, batch: Images) -> tuple[Features, Logits]:
        """Features and logits in one pass.

        Args:
            batch: uint8 RGB ``[N, 224, 224, 3]``.

        Returns:
            ``(features [N, 1280], logits [N, 1000])``, float32.
        """
        a = self._check(batch)
        if len(a) == 0:
            return np.empty((0, self.dim), np.float32), np.empty((0, self.num_classes), np.float32)
        feats, logits = self._session.run(["features", "logits"], {self._input_name: a})
        return feats, logits

    def embed(self, batch: Images) -> Features:
        """Global-average-pooled features, float32 ``[N, 1280]`` (not normalised)."""
        a = self._check(batch)
        if len(a) == 0:
            return np.empty((0, self.dim), np.float32)
        return self._session.run(["features"], {self._input_name: a})[0]

    def predict(self, batch: Images) -> Logits:
        """ImageNet-1k logits, float32 ``[N, 1000]``."""
        return self.run(batch)[1]

    @property
    def labels(self) -> list[str]:
        """The 1000 ImageNet class names in logit order (WordNet lemmas, e.g. ``"running shoe"``)."""
        if self._labels is None:
            path = self.model_path.with_name(_CLASSES_FILE)
            if not path.is_file():
                path = resource_path("models", _CLASSES_FILE)
            labels = path.read_text(encoding="utf-8").splitlines()
            if len(labels) != self.num_classes:
                raise ModelCorrupt(f"{path} has {len(labels)} class names, expected {self.num_classes}.")
            self._labels = labels
        return self._labels

    def classify(self, batch: Images, topk: int = 5) -> list[list[tuple[str, float]]]:
        """The ``topk`` most likely ImageNet classes per image, best first, as ``(label, probability)``."""
        logits = self.predict(batch).astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        k = max(1, min(int(topk), self.num_classes))
        top = np.argsort(-probs, axis=1, kind="stable")[:, :k]
        labels = self.labels
        return [[(labels[j], float(p[j])) for j in row] for p, row in zip(probs, top)]

    def __repr__(self) -> str:
        return f"Backbone({self.model_path.name!r}, provider={self.provider!r}, threads={self.threads})"
