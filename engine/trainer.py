"""Training orchestration: DistillHash on cached features, ONNX export, parity check, atomic index switch.

This module imports torch only inside functions (via ``engine.train`` / ``engine.export_hash``), so the
search path can import the facade without it; ``training_available()`` says clearly why training cannot run.
"""

from __future__ import annotations

import importlib.util
import logging
import time
import warnings
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING

import numpy as np

from engine import models as model_store
from engine.errors import SimiliError, TrainingUnavailable
from engine.types import ModelInfo, Progress

if TYPE_CHECKING:
    from engine.api import Library

__all__ = ["training_available", "run_training", "train_in_subprocess", "MIN_PHOTOS"]

log = logging.getLogger(__name__)

MIN_PHOTOS = 50
PARITY_PHOTOS = 32


def _with_epochs(job, n: int):
    """Pass training progress through, adding the epoch count the progress panel shows."""
    result = None
    try:
        while True:
            p = next(job)
            if p.stage == "train" and p.total:
                from dataclasses import replace

                p = replace(p, metrics={**p.metrics, "epochs": float(p.metrics.get("epochs", 0) or 0)
                                         or round(p.total * p.metrics.get("epoch", 0) / max(p.done, 1), 1)})
            yield p
    except StopIteration as stop:
        result = stop.value
    return result


def _sample_images(lib: Library, rng: np.random.Generator, count: int) -> np.ndarray:
    """Up to ``count`` decoded 224x224 photos of the library, for the encoder parity check."""
    from engine.catalog import fs_str
    from engine.encode import decode_safely
    from engine.errors import DecodeError

    rows = lib.catalog.db.execute("SELECT path FROM photos WHERE status='ok' ORDER BY id").fetchall()
    picks = rng.choice(len(rows), size=min(count * 2, len(rows)), replace=False) if rows else []
    out = []
    for i in picks:
        item = decode_safely(fs_str(rows[int(i)][0]), 224)
        if not isinstance(item, DecodeError):
            out.append(item.pixels)
        if len(out) == count:
            break
    return np.stack(out) if out else np.zeros((0, 224, 224, 3), np.uint8)


def training_available() -> tuple[bool, str]:
    """(True, device description) or (False, why not), without importing torch when it is absent."""
    import sys

    how = ("install training support: simili install-training" if getattr(sys, "frozen", False)
           else "install the training extra: pip install 'simili[train]'")
    for module, what in (("torch", "PyTorch"), ("onnx", "onnx")):
        if importlib.util.find_spec(module) is None:
            return False, f"training needs {what}, which is not installed; {how}"
    for module in ("engine.train", "engine.export_hash"):
        if importlib.util.find_spec(module) is None:
            return False, f"this Simili build lacks its training module ({module}); reinstall Simili"
    return True, "PyTorch is installed"


def gpu_status() -> tuple[bool, str]:
    """Whether training can use a GPU, and why not (imports torch; call from a worker thread)."""
    ok, reason = training_available()
    if not ok:
        return False, reason
    import torch

    if torch.cuda.is_available():
        return True, f"GPU: {torch.cuda.get_device_name(0)}"
    if not torch.backends.cuda.is_built():
        return False, "this PyTorch build has no CUDA support (CPU-only build); training runs on the CPU"
    return False, "no CUDA GPU was found (or its driver is not loaded); training runs on the CPU"


def run_training(lib: Library, bits: int, device: str, seed: int,
                 should_stop: Callable[[], bool] | None = None) -> Generator[Progress, None, ModelInfo]:
    ok, reason = training_available()
    if not ok:
        raise TrainingUnavailable(reason)
    from engine.export_hash import check_parity, export_encoder, export_head
    from engine.index import CodeIndex
    from engine.train import database_features, train_distillhash

    ids, rows = lib.catalog.feature_rows()
    need = max(MIN_PHOTOS, bits + 1)  # the head starts from a PCA of `bits` dimensions
    if len(ids) < need:
        raise SimiliError(f"training {bits}-bit codes needs at least {need} indexed photos;"
                          f" this library has {len(ids)}")
    yield Progress("train", 0, None, message=f"loading features of {len(ids)} photos")
    features = lib.features.get(rows)
    started = time.perf_counter()
    job = train_distillhash(features, bits=bits, device=device, seed=seed,
                            checkpoint_dir=lib.home / "train" / f"distillhash-{bits}", should_stop=should_stop)
    result = yield from _with_epochs(job, len(features))
    train_seconds = time.perf_counter() - started

    yield Progress("export", 0, 2, message="exporting the trained encoder to ONNX")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    head_path = lib.home / "models" / f"distillhash-{bits}-{stamp}.onnx"
    encoder_path = lib.home / "models" / f"distillhash-{bits}-{stamp}-encoder.onnx"
    with warnings.catch_warnings():  # the exporter's notes on constant folding are not for users
        warnings.simplefilter("ignore")
        export_head(result, head_path)
        export_encoder(result, encoder_path)
    yield Progress("export", 1, 2, message="checking ONNX against PyTorch")
    rng = np.random.default_rng(seed)
    sample = features[np.sort(rng.choice(len(features), size=min(len(features), 2048), replace=False))]
    head_parity = check_parity(result, head_path, sample)
    # The whole encoder (backbone + head, from pixels) on real photos of this library.
    images = _sample_images(lib, rng, PARITY_PHOTOS)
    encoder_parity = check_parity(result, encoder_path, images) if len(images) else {}
    yield Progress("export", 2, 2, message="ONNX matches PyTorch")

    metrics = {"train_seconds": round(train_seconds, 2), "photos": float(len(ids))}
    metrics.update({f"head_{k}": float(v) for k, v in head_parity.items()})
    metrics.update({f"encoder_{k}": float(v) for k, v in encoder_parity.items()})
    metrics.update({k: float(v) for k, v in result.diagnostics.items() if isinstance(v, (int, float))})
    if result.neighbours is not None:  # photos added later get the same kind of code (engine.neighbourhood)
        metrics.update({"db_smooth_k": float(result.config.smooth_k), "db_smooth_self": result.config.smooth_self})
    info = model_store.add_model(lib, "distillhash", bits, head_path, len(ids), metrics, activate=False)

    # Build and save the new index before switching: searches keep using the old one until the switch.
    yield Progress("reencode", 0, len(ids), message="re-encoding the collection with ONNX Runtime")
    entry = next(m for m in lib.catalog.models() if m[0].id == info.id)
    coder = model_store.load_coder(lib.home, info, entry[1], entry[2])
    # The photos trained on are stored under their neighbourhood features (database_features); photos indexed
    # since training started get theirs from the library's search (reconcile -> engine.neighbourhood).
    index = CodeIndex(bits)
    index.add(ids, coder.encode(database_features(features, result)))
    index = model_store.reconcile(lib, info, index, coder=coder)
    model_store.save_index(lib, index, model_id=info.id)
    lib.catalog.activate_model(info.id)
    model_store.save_index(lib, index)
    lib.discard_training(bits)  # finished: the next run starts afresh rather than resuming this one
    yield Progress("reencode", len(ids), len(ids), message=f"{len(index)} photos re-encoded")
    return next(m for m in lib.models() if m.id == info.id)


def _engine_command() -> list[str]:
    """How to start this program's CLI: the frozen bundle's own executable, or ``python -m engine``."""
    import sys

    if getattr(sys, "frozen", False):
        return [sys.executable]
    return [sys.executable, "-m", "engine"]


def train_in_subprocess(home, bits: int, device: str, seed: int = 0,
                        should_stop: Callable[[], bool] | None = None) -> Generator[Progress, None, ModelInfo]:
    """Train in a child process (``simili train --progress-jsonl``), yielding its progress.

    The desktop app uses this so that importing torch (hundreds of milliseconds with the GIL held) and the
    training itself never stall its window. Stopping sends the child an interrupt; it keeps its checkpoint,
    exits, and this raises Cancelled. The child takes the library's writer lock itself.
    """
    import json
    import os
    import signal
    import subprocess
    import threading

    from engine.errors import Cancelled, LibraryBusy

    cmd = _engine_command() + ["--home", str(home), "train", "--progress-jsonl", "--bits", str(bits),
                               "--device", device, "--seed", str(seed)]
    flags = subprocess.CREATE_NEW_PROCESS_GROUP if os.name == "nt" else 0
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, creationflags=flags)
    stop_sent = threading.Event()

    def watch() -> None:
        while proc.poll() is None:
            if should_stop is not None and should_stop() and not stop_sent.is_set():
                stop_sent.set()
                proc.send_signal(signal.CTRL_BREAK_EVENT if os.name == "nt" else signal.SIGINT)
            threading.Event().wait(0.1)

    threading.Thread(target=watch, name="simili-train-watch", daemon=True).start()
    result = None
    try:
        for line in proc.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if "progress" in msg:
                yield Progress(**msg["progress"])
            elif "model" in msg:
                result = ModelInfo(**msg["model"])
        err = proc.stderr.read().strip()
        code = proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if code == 130 or stop_sent.is_set():
        raise Cancelled("training paused; it resumes from its checkpoint next time")
    if code != 0 or result is None:
        message = err.splitlines()[-1] if err else f"training stopped with exit status {code}"
        message = message.removeprefix("simili: ")
        if "busy" in message:
            raise LibraryBusy(message)
        raise SimiliError(message)
    return result
