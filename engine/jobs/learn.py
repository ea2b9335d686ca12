"""The learning job: DistillHash trained on the cached features, exported to ONNX, checked, switched to.

:func:`run_training` is the whole flow in one place: train, export, parity check, register the model, re-encode the
collection into the model's index, and activate it (the index switches atomically; the previous model stays for
roll-back). This module imports torch only inside functions (via ``engine.learning.train`` / ``engine.learning.export_hash``), so the
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

from engine.errors import SimiliError, TrainingUnavailable
from engine.types import ModelInfo, Progress

if TYPE_CHECKING:
    from engine.library.catalog import Catalog
    from engine.library.store import Store

__all__ = ["training_available", "gpu_status", "gpu_status_isolated", "run_training", "train_in_subprocess",
           "discard_checkpoint", "MIN_PHOTOS"]

log = logging.getLogger(__name__)

MIN_PHOTOS = 50
PARITY_PHOTOS = 32
HOLDOUT = 0.1  # share of the photos (at most 500) kept out of training to check the result (engine.learning.train_check)


# How long learning takes on a processor, before a library has learned once: a few seconds to start, then about
# 300 photos a second (bench/results/train_speed-vm.json: 10,000 photos in 30 s, 100,000 in 381 s on 2 cores).
START_S, PHOTOS_PER_S = 4.0, 300.0


def expected_seconds(models: list[ModelInfo], photos: int, device: str) -> float | None:
    """How long studying ``photos`` photos should take: at the pace this library's last learning run had, scaled
    by photos; else the processor's measured pace; None on a graphics card never timed here."""
    past = next((m.metrics for m in models if m.kind == "distillhash" and m.metrics.get("train_seconds")
                 and m.metrics.get("photos")), None)
    if past is not None:
        return float(past["train_seconds"]) * photos / float(past["photos"])
    return START_S + photos / PHOTOS_PER_S if device == "cpu" else None


def _with_epochs(job, n: int, expected_s: float | None = None):
    """Pass training progress through, adding the epoch count the progress panel shows, and the time left
    (``expected_s`` from the start) to the steps that have no count of their own (finding neighbours...)."""
    from dataclasses import replace

    result = None
    started = time.perf_counter()
    try:
        while True:
            p = next(job)
            if p.stage == "train" and p.total:
                p = replace(p, metrics={**p.metrics, "epochs": float(p.metrics.get("epochs", 0) or 0)
                                         or round(p.total * p.metrics.get("epoch", 0) / max(p.done, 1), 1)})
            elif p.stage == "train" and p.eta_s is None and expected_s is not None:
                p = replace(p, eta_s=max(expected_s - (time.perf_counter() - started), 1.0))
            yield p
    except StopIteration as stop:
        result = stop.value
    return result


def _sample_images(catalog: Catalog, rng: np.random.Generator, count: int) -> np.ndarray:
    """Up to ``count`` decoded 224x224 photos of the library, for the encoder parity check."""
    from engine.model.encode import decode_safely
    from engine.errors import DecodeError

    paths = catalog.ok_paths()
    picks = rng.choice(len(paths), size=min(count * 2, len(paths)), replace=False) if paths else []
    out = []
    for i in picks:
        item = decode_safely(paths[int(i)], 224)
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
    for module in ("engine.learning.train", "engine.learning.export_hash"):
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


def gpu_status_isolated() -> tuple[bool, str]:
    """:func:`gpu_status` answered by a child Python process when possible.

    Importing torch takes seconds and holds the GIL for long stretches (a GUI thread would stall for ~0.4 s),
    so a check alone runs in a child process; a frozen app has no separate interpreter and asks in-process.
    """
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    if getattr(sys, "frozen", False):
        return gpu_status()
    code = "import json; from engine.jobs.learn import gpu_status; print(json.dumps(gpu_status()))"
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
        ok, text = json.loads(out.stdout.strip().splitlines()[-1])
        return bool(ok), str(text)
    except (OSError, ValueError, IndexError, subprocess.SubprocessError) as exc:
        log.info("GPU check in a child process failed (%s); asking in-process", exc)
        return gpu_status()


def run_training(store: Store, bits: int, device: str, seed: int,
                 should_stop: Callable[[], bool] | None = None) -> Generator[Progress, None, ModelInfo]:
    """Train, export, check, re-encode and switch (the caller holds the writer lock); returns the new model."""
    ok, reason = training_available()
    if not ok:
        raise TrainingUnavailable(reason)
    from engine.learning.export_hash import check_parity, export_encoder, export_head
    from engine.codes.codeindex import CodeIndex
    from engine.learning.train import database_features, train_distillhash

    catalog, models = store.catalog, store.models
    ids, rows = catalog.feature_rows()
    need = max(MIN_PHOTOS, bits + 1)  # the head starts from a PCA of `bits` dimensions
    if len(ids) < need:
        raise SimiliError(f"training {bits}-bit codes needs at least {need} indexed photos;"
                          f" this library has {len(ids)}")
    yield Progress("train", 0, None, message=f"loading features of {len(ids)} photos")
    features = store.features.get(rows)
    started = time.perf_counter()
    job = train_distillhash(features, bits=bits, device=device, seed=seed, holdout=HOLDOUT,
                            checkpoint_dir=store.training_dir(bits), should_stop=should_stop)
    from engine.learning.train import _resolve_device

    expected = expected_seconds(models.infos(), len(features), str(_resolve_device(device)).split(":")[0])
    result = yield from _with_epochs(job, len(features), expected)
    trained = result.trained_rows(len(ids))  # the held-out rest gets codes like photos indexed later
    train_seconds = time.perf_counter() - started

    yield Progress("export", 0, 2, message="exporting the trained encoder to ONNX")
    head_path = models.new_file(f"distillhash-{bits}", ".onnx", also=("-encoder.onnx",))
    encoder_path = head_path.with_name(head_path.name[: -len(".onnx")] + "-encoder.onnx")
    try:  # a run stopped or killed here leaves files no model names: removed now, or swept by the next index
        with warnings.catch_warnings():  # the exporter's notes on constant folding are not for users
            warnings.simplefilter("ignore")
            export_head(result, head_path)
            export_encoder(result, encoder_path)
        yield Progress("export", 1, 2, message="checking ONNX against PyTorch")
        rng = np.random.default_rng(seed)
        sample = features[np.sort(rng.choice(trained, size=min(len(trained), 2048), replace=False))]
        head_parity = check_parity(result, head_path, sample)
        # The whole encoder (backbone + head, from pixels) on real photos of this library.
        images = _sample_images(catalog, rng, PARITY_PHOTOS)
        encoder_parity = check_parity(result, encoder_path, images) if len(images) else {}
    except BaseException:
        for p in (head_path, encoder_path):
            p.unlink(missing_ok=True)
        raise
    yield Progress("export", 2, 2, message="ONNX matches PyTorch")

    metrics = {"train_seconds": round(train_seconds, 2), "photos": float(len(ids))}
    metrics.update({f"head_{k}": float(v) for k, v in head_parity.items()})
    metrics.update({f"encoder_{k}": float(v) for k, v in encoder_parity.items()})
    metrics.update({k: float(v) for k, v in result.diagnostics.items() if isinstance(v, (int, float))})
    if result.neighbours is not None:  # photos added later get the same kind of code (engine.codes.neighbourhood)
        metrics.update({"db_smooth_k": float(result.config.smooth_k), "db_smooth_self": result.config.smooth_self})
    info = models.add("distillhash", bits, head_path, len(ids), metrics, activate=False)

    # Build and save the new index before switching: searches keep using the old one until the switch.
    yield Progress("reencode", 0, len(ids), message="re-encoding the collection with ONNX Runtime")
    coder = models.load_coder(catalog.model_record(info.id))
    # The photos trained on are stored under their neighbourhood features (database_features); photos indexed
    # since training started get theirs from the library's search (reconcile -> engine.codes.neighbourhood).
    index = CodeIndex(bits)
    index.add(np.asarray(ids)[trained], coder.encode(database_features(features[trained], result)))
    index = models.reconcile(info, index, coder=coder)
    models.save_index(index, model_id=info.id)
    discard_checkpoint(store, bits)  # finished: the next run starts afresh rather than resuming this one
    if result.check is not None and not result.check.passed:
        # Kept for `simili models --activate`, but search stays with the codes it had (engine.learning.train_check).
        yield Progress("reencode", len(ids), len(ids), message="the learned codes did not find similar photos "
                                                               "better than before; search is unchanged")
        return next(m for m in models.infos() if m.id == info.id)
    info = models.activate(info.id, index)
    yield Progress("reencode", len(ids), len(ids), message=f"{len(index)} photos re-encoded")
    return info


def discard_checkpoint(store: Store, bits: int) -> None:
    """Forget a paused training run so the next one starts from scratch."""
    import shutil

    shutil.rmtree(store.training_dir(bits), ignore_errors=True)


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
