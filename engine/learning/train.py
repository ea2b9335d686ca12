"""DistillHash on cached backbone features: a small hash head trained on the user's own photos (PyTorch).

Method: E. Yang, T. Liu, C. Deng, W. Liu, D. Tao, "DistillHash: Unsupervised Deep Hashing by Distilling Data Pairs",
CVPR 2019 (arXiv 1905.03465), with refinements from the same line of work (DSG, DMUH, rank-preserving hashing).
``docs/distillhash.md`` describes the method as implemented, the choices made where the papers are silent, what was
measured and what did not survive; equation numbers there and here are the papers' own.

The backbone stays frozen: every photo's pooled feature is computed once (the catalog caches it) and only the head
(``(l2norm(x) - mean) -> [MLP] -> Linear -> logits``; codes are ``logits > 0``) is trained. No N x N matrix is ever
formed: local structure comes from a faiss kNN graph (``engine.learning.train_graph``) and every pair label is computed on the
fly for the pairs of a mini-batch (anchors plus some of their kNN neighbours).

The default variant (``graph``) starts the head from a linear projection that preserves the collection's similarity
at several diffusion scales of the kNN graph (``engine.learning.train_graph.diffusion_start``), then refines it on distilled
pairs with the Bayesian pair likelihood (``engine.learning.train_phases``). The library stores each training photo's code of
its neighbourhood feature (``database_features``); queries keep their own feature and rank by the asymmetric score.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import logging
import math
import os
import tempfile
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from engine.codes.binary import l2_normalize
from engine.errors import Cancelled, TrainingUnavailable
from engine.progress import run_to_end  # noqa: F401  (re-exported for scripts and tests)
from engine.learning.train_check import CheckResult, compare_models, holdout_rows
from engine.learning.train_graph import diffusion_start, knn_graph, neighbourhood_features, ssdh_thresholds
from engine.learning.train_phases import VARIANTS, faithful_phases, refine_phases
from engine.types import Progress

__all__ = ["TrainConfig", "TrainResult", "train_distillhash", "run_to_end", "build_head", "ssdh_thresholds",
           "knn_graph", "database_features"]

log = logging.getLogger(__name__)

CHECKPOINT_NAME = "distillhash.ckpt"


@dataclass(frozen=True)
class TrainConfig:
    """Everything that changes what training computes (hashed into checkpoints)."""

    variant: str = "graph"  # one of engine.learning.train_phases.VARIANTS
    # local structure
    graph_k: int = 10  # kNN edges of the diffusion graph
    diffusion_times: tuple[int, ...] = (2, 32, 128)  # short (same object) to long (same kind) diffusion scales
    ridge: float = 1.0  # ridge of the maps from features to diffusion coordinates
    smooth_k: int = 2  # neighbours averaged into a photo's database feature z
    smooth_self: float = 0.7  # weight of the photo's own feature in z
    # distilled pairs of the refinement (graph, dsg, dmuh)
    pos_quantile: float = 0.99  # confident positives: more similar (in the targets) than this quantile of pairs
    neg_quantile: float = 0.5  # confident negatives: less similar than this quantile; the middle is discarded
    anchor_weight: float = 5.0  # L2 pull of the projection towards its start (relative)
    priority_gamma: float = 1.0  # dsg: weight (1 - p_correct)^gamma
    momentum: float = 0.99  # dmuh: EMA rate of the momentum head
    rank_temperature: float = 0.05  # rankpres: temperature of the target distribution
    # optimisation
    batch_anchors: int = 96  # faithful: 64
    neighbours_per_anchor: int = 1  # faithful: 3
    lr: float | None = None  # None: the release's 1e-3 for "faithful", 1e-4 for the refinements
    adam_eps: float | None = None  # None: the release's 1.0 for "faithful", 1e-8 otherwise
    epochs: float | None = None  # refinement (faithful: stage 3) epochs of anchors; None: the variant's own

    min_steps: int = 0
    max_steps: int = 3000
    quant_weight: float = 0.01  # lambda of the quantisation term
    pos_weight_cap: float = 50.0
    # "faithful" only (the release's stage 1 and distillation)
    knn: int = 20  # o: neighbourhood size of the local flip-rate estimates (release nn = 20)
    knn_offset: int = 2  # p: N'(i) = ranks offset .. offset + o - 1 (release start_n = 2)
    ssdh_sigma: float = 2.0  # alpha = beta in d_l = m_l - alpha sigma_l, d_r = m_r + beta sigma_r (docs/distillhash.md (2))
    hidden: int = 512  # MLP width of the faithful head; other variants are linear
    stage1_epochs: float = 10.0
    checkpoint_every_s: float = 5.0
    progress_every_s: float = 0.5

    def digest(self) -> str:
        """Hash of the fields that change the result (not the checkpoint/progress cadence)."""
        d = dataclasses.asdict(self)
        d.pop("checkpoint_every_s")
        d.pop("progress_every_s")
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]

    @classmethod
    def faithful(cls, **kw: Any) -> TrainConfig:
        return cls(**{"variant": "faithful", "batch_anchors": 64, "neighbours_per_anchor": 3, "min_steps": 200, **kw})

    @property
    def refine_epochs(self) -> float:
        """Epochs of the last phase: measured best per variant (docs/distillhash.md §8)."""
        if self.epochs is not None:
            return self.epochs
        return {"graph": 0.0, "faithful": 20.0}.get(self.variant, 2.0)


@dataclass
class TrainResult:
    """A trained hash head and how it was made.

    Attributes:
        state_dict: the head's parameters and buffers (CPU tensors), loadable into ``build_head(...)``.
        config: the TrainConfig used.
        bits: code length.
        in_dim: feature dimension the head expects.
        diagnostics: numbers for logs and the model table (pair fractions, thresholds, final loss, seconds).
        neighbours: for models that store neighbourhood codes, each training photo's ``smooth_k`` nearest training photos (row
            numbers), from which ``database_features`` rebuilds the features the library stores codes of.
    """

    state_dict: dict[str, Any]
    config: TrainConfig
    bits: int
    in_dim: int
    diagnostics: dict[str, float] = field(default_factory=dict)
    neighbours: np.ndarray | None = None  # (N, smooth_k) kNN rows of each training photo, for database_features
    rows: np.ndarray | None = None  # rows of the given features that were trained on (None: all of them)
    check: CheckResult | None = None  # the held-out comparison with the training-free code, when one was asked

    def trained_rows(self, n: int) -> np.ndarray:
        """Rows (of the n features given to training) that the model was trained on, in order."""
        return np.arange(n) if self.rows is None else self.rows

    @property
    def hidden(self) -> int:
        return self.config.hidden if self.config.variant == "faithful" else 0


def _torch():
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise TrainingUnavailable("PyTorch is not installed; install simili[train] to train codes") from exc
    return torch


# --------------------------------------------------------------------------------------------------- the head

def build_head(in_dim: int, bits: int, hidden: int = 0):
    """The hash head: logits = f((l2norm(x) - mean)); codes are ``logits > 0``.

    L2 normalisation is inside the module (and so inside the exported ONNX graph): the engine passes raw backbone
    features, exactly as it does to ``LinearCoder.project``.
    """
    torch = _torch()
    nn = torch.nn
    input_scale = math.sqrt(in_dim)

    class HashHead(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("mean", torch.zeros(in_dim))
            self.mlp = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU()) if hidden else nn.Identity()
            self.proj = nn.Linear(hidden or in_dim, bits)

        def forward(self, features):
            x = features / features.norm(dim=1, keepdim=True).clamp_min(1e-12)
            # x sqrt(d): unit-variance inputs, as the un-normalised VGG fc7 features of the release roughly were;
            # on unit vectors a default-initialised head gives outputs near 0 and P~ = 1/2 for every pair.
            return self.proj(self.mlp((x - self.mean) * input_scale))

    return HashHead()


def _linear_head(mean: np.ndarray, weight: np.ndarray):
    """A linear head with logits = (l2norm(x) - mean) @ weight."""
    torch = _torch()
    d, bits = weight.shape
    head = build_head(d, bits, 0)
    with torch.no_grad():
        head.mean.copy_(torch.from_numpy(np.ascontiguousarray(mean, dtype=np.float32)))
        head.proj.weight.copy_(torch.from_numpy(np.ascontiguousarray(weight.T, dtype=np.float32)) / math.sqrt(d))
        head.proj.bias.zero_()
    return head


# ------------------------------------------------------------------------------------------------- batches

def _sample_batch(rng: np.random.Generator, knn: np.ndarray, cfg: TrainConfig) -> np.ndarray:
    """Anchors drawn uniformly plus ``neighbours_per_anchor`` of their kNN neighbours each."""
    n = len(knn)
    anchors = rng.integers(0, n, min(cfg.batch_anchors, n))
    kk = knn.shape[1] - 1
    if kk > 0 and cfg.neighbours_per_anchor:
        cols = 1 + rng.integers(0, kk, (len(anchors), cfg.neighbours_per_anchor))
        anchors = np.concatenate([anchors, knn[anchors[:, None], cols].ravel()])
    return np.unique(anchors)


def _step_budget(n: int, epochs: float, cfg: TrainConfig) -> int:
    """Steps for ``epochs`` passes of anchors over N photos, clamped to [min_steps, max_steps].

    The cap keeps 100k photos within minutes on two CPU cores; beyond a few thousand steps a linear head on
    frozen features has converged (the anchors sample the kNN graph, not every pair).
    """
    return int(min(cfg.max_steps, max(cfg.min_steps, math.ceil(epochs * n / max(1, cfg.batch_anchors)))))


# ------------------------------------------------------------------------------------------- checkpoints

def _save_checkpoint(path: Path, payload: dict) -> None:
    """torch.save to a temporary file in the same folder, then os.replace (atomic on one file system)."""
    torch = _torch()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _load_checkpoint(path: Path, meta: dict) -> dict | None:
    """The checkpoint at ``path`` if it was made for the same data size, bits, seed and config; else None."""
    if not path.exists():
        return None
    torch = _torch()
    try:
        # weights_only: the unpickler accepts tensors and plain containers only, so a file planted in the library
        # folder cannot run code.
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a torn or foreign file: start over rather than fail the job
        log.warning("ignoring unreadable checkpoint %s: %s", path, exc)
        return None
    if payload.get("meta") != meta:
        log.info("checkpoint %s is for another run (%s), starting over", path, payload.get("meta"))
        return None
    return payload


def _resolve_device(device: str):
    torch = _torch()
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(device)


# ------------------------------------------------------------------------------------------------- training

def train_distillhash(
    features: npt.ArrayLike,
    *,
    bits: int = 64,
    device: str = "auto",
    seed: int = 0,
    config: TrainConfig | None = None,
    checkpoint_dir: Path | None = None,
    should_stop: Callable[[], bool] | None = None,
    holdout: float = 0.0,
) -> Generator[Progress, None, TrainResult]:
    """Train a DistillHash head on cached backbone features; a generator of Progress returning a TrainResult.

    Args:
        features: (N, d) float16/float32 backbone features, not necessarily normalised.
        bits: code length (a multiple of 8).
        device: ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``.
        seed: fixes initialisation, ITQ rotation and batch sampling; on CPU the same seed gives the same head.
        config: TrainConfig; defaults to the measured-best variant.
        checkpoint_dir: where a checkpoint is written every ``config.checkpoint_every_s`` seconds and resumed from
            when it matches (same N, d, bits, seed and config digest).
        should_stop: polled every step; when it returns True, training raises ``Cancelled`` (after saving a
            checkpoint, so a later call continues from there).
        holdout: when > 0, this fraction of the photos (at most ``engine.learning.train_check.MAX_QUERIES``) is kept out of
            training and used to compare the trained model with ITQ fitted on the same photos
            (``engine.learning.train_check``); ``result.rows`` then lists the rows trained on and ``result.check`` the verdict.

    Yields:
        Progress(stage="train", done=step, total=steps, ...) at least every ``config.progress_every_s`` seconds.
    """
    torch = _torch()
    cfg = config or TrainConfig()
    if bits % 8 or bits <= 0:
        raise ValueError(f"code length must be a positive multiple of 8, got {bits}")
    if cfg.variant not in VARIANTS:
        raise ValueError(f"unknown DistillHash variant {cfg.variant!r}")
    t_start = time.perf_counter()
    dev = _resolve_device(device)
    x_all = l2_normalize(np.asarray(features, dtype=np.float32))
    rows, held = holdout_rows(len(x_all), holdout, seed, keep=bits + 1) if holdout > 0 else (None, None)
    if held is not None and not len(held):  # too few photos to spare any: trained on all, no check
        rows, held = None, None
    x = x_all if rows is None else x_all[rows]
    n, d = x.shape
    if n <= bits:
        raise ValueError(f"training {bits}-bit codes needs more than {bits} photos, got {n}")
    meta = {"n": n, "d": d, "bits": bits, "seed": seed, "config": cfg.digest()}
    ckpt_path = Path(checkpoint_dir) / CHECKPOINT_NAME if checkpoint_dir is not None else None

    yield Progress("train", 0, None, message="finding each photo's nearest photos")
    faithful = cfg.variant == "faithful"
    knn = knn_graph(x, max(cfg.knn + cfg.knn_offset, cfg.smooth_k) if faithful else max(cfg.graph_k, cfg.smooth_k))
    thr = ssdh_thresholds(x, cfg.ssdh_sigma, seed=seed)
    gen = torch.Generator().manual_seed(seed)
    x_t = torch.from_numpy(x).to(dev)
    counts = {"pos": 0.0, "neg": 0.0, "all": 0.0}
    extra: dict[str, float] = {}
    z = x  # the features the library stores codes of: faithful models store each photo's own
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if faithful:
            phases = faithful_phases(x_t, knn, cfg, bits, gen, thr[0], counts, dev, build_head,
                                     lambda epochs: _step_budget(n, epochs, cfg))
        else:
            yield Progress("train", 0, None, message="learning the collection's structure")
            z = neighbourhood_features(x, knn, cfg.smooth_k, cfg.smooth_self)
            mu, w, extra = diffusion_start(x, z, knn, bits, graph_k=cfg.graph_k, times=cfg.diffusion_times,
                                           ridge=cfg.ridge, seed=seed, device=dev)
            head = _linear_head(mu, w).to(dev)
            with torch.no_grad():
                y = l2_normalize(head(torch.from_numpy(z).to(dev)).cpu().numpy())  # the targets, in code space
            steps = _step_budget(n, cfg.refine_epochs, cfg)
            phases = refine_phases(cfg, head, x_t, torch.from_numpy(z).to(dev), y, steps, seed, counts,
                                   dev) if steps else []  # no optimiser to build when the start is the model
            start_weight = head.proj.weight.detach().clone()
    total = sum(p.steps for p in phases)
    rng = np.random.default_rng(seed)
    step, last_loss = 0, float("nan")

    resume = _load_checkpoint(ckpt_path, meta) if ckpt_path else None
    if resume is not None:
        for p, sd, od in zip(phases, resume["heads"], resume["opts"]):
            p.head.load_state_dict(sd)
            p.opt.load_state_dict(od)
        step, last_loss = int(resume["step"]), float(resume["loss"])
        rng.bit_generator.state = resume["rng"]
        counts.update(resume["counts"])
        log.info("resuming DistillHash training at step %d of %d", step, total)

    def checkpoint() -> None:
        if ckpt_path is not None:
            _save_checkpoint(ckpt_path, {
                "meta": meta, "step": step, "loss": last_loss, "rng": rng.bit_generator.state,
                "counts": dict(counts), "heads": [p.head.state_dict() for p in phases],
                "opts": [p.opt.state_dict() for p in phases]})

    t_loop = time.perf_counter()
    step0 = step
    last_yield = last_ckpt = t_loop
    offset = 0
    for phase in phases:
        if step >= offset + phase.steps:
            offset += phase.steps
            continue
        if phase.before is not None:
            phase.before()
        phase.head.train()
        while step < offset + phase.steps:
            if should_stop is not None and should_stop():
                checkpoint()
                raise Cancelled("training stopped")
            idx = _sample_batch(rng, knn, cfg)
            loss = phase.loss(idx)
            phase.opt.zero_grad(set_to_none=True)
            loss.backward()
            phase.opt.step()
            step += 1
            last_loss = float(loss.detach())
            now = time.perf_counter()
            if now - last_ckpt >= cfg.checkpoint_every_s:
                checkpoint()
                last_ckpt = now
            if now - last_yield >= cfg.progress_every_s or step == total:
                rate = (step - step0) / max(now - t_loop, 1e-9)
                yield Progress("train", step, total, rate=rate, eta_s=(total - step) / max(rate, 1e-9),
                               message=f"{phase.name}: step {step} of {total}",
                               metrics={"loss": last_loss, "epoch": step * cfg.batch_anchors / n})
                last_yield = now
        offset += phase.steps
    checkpoint()

    final = (phases[-1].head if phases else head).eval()
    pairs = max(counts["all"], 1.0)
    diagnostics = {
        "n": float(n), "steps": float(total), **({"final_loss": last_loss} if total else {}),
        "seconds": time.perf_counter() - t_start,
        "pairs_pos": counts["pos"] / pairs, "pairs_neg": counts["neg"] / pairs,
        "pairs_zero": 1.0 - (counts["pos"] + counts["neg"]) / pairs,
        "ssdh_d_l": float(thr[0]), "ssdh_d_r": float(thr[1]), **extra,
    }
    if not faithful:  # how far refinement moved the head from its start (relative Frobenius norm)
        extra["head_drift"] = float((final.proj.weight.detach() - start_weight).norm() / start_weight.norm())
        diagnostics["head_drift"] = extra["head_drift"]
    check = None
    if held is not None and len(held):
        yield Progress("train", total, total, message="checking the new codes on photos training never saw")
        check = _check(final, x, z, x_all[held], bits, seed, dev)
        diagnostics.update(check.metrics())
    state = {k: v.detach().cpu().clone() for k, v in final.state_dict().items()}
    neighbours = knn[:, 1 : cfg.smooth_k + 1].astype(np.int32) if not faithful and cfg.smooth_k else None
    return TrainResult(state_dict=state, config=copy.deepcopy(cfg), bits=bits, in_dim=d, diagnostics=diagnostics,
                       neighbours=neighbours, rows=rows, check=check)


def _check(head, x: np.ndarray, z: np.ndarray, held: np.ndarray, bits: int, seed: int, device) -> CheckResult:
    """The trained head against ITQ fitted on the same training photos, queried by the held-out photos; the trained
    photos are coded from ``z``, the features the library stores codes of."""
    torch = _torch()
    from engine.codes.binary import fit_itq, pack_signs

    with torch.no_grad():
        run = lambda v: torch.cat([head(torch.from_numpy(v[s : s + 8192]).to(device)).cpu()  # noqa: E731
                                   for s in range(0, len(v), 8192)]).numpy()
        trained = (run(held), pack_signs(run(z)))
    itq = fit_itq(x, bits, seed=seed)
    return compare_models(x, held, trained, (itq.project(held), itq.encode(x)), seed=seed)


def database_features(features: npt.ArrayLike, result: TrainResult) -> npt.NDArray[np.float32]:
    """The features whose codes the library stores for the photos a model was trained on (same rows, same order).

    Models with neighbour lists store each photo under its neighbourhood feature z_i = normalise(a x_i + (1 - a)
    mean_{j in kNN_k(i)} x_j) (``engine.learning.train_graph.neighbourhood_features``), while queries keep their own feature x_q and
    rank the stored codes by the asymmetric score ``engine.codes.binary.asymmetric_scores``: the collection's structure
    lives on the database side, so a dropped image and an edited copy are still found from their own pixels.
    Other models store the features unchanged (normalised). Rows must be the training features, in order.
    """
    x = l2_normalize(np.asarray(features, dtype=np.float32))
    nb = result.neighbours
    if nb is None:
        return x
    if len(nb) != len(x):
        raise ValueError(f"the model was trained on {len(nb)} photos, got features of {len(x)}")
    cfg = result.config
    return neighbourhood_features(x, np.concatenate([np.arange(len(x))[:, None], nb], axis=1), cfg.smooth_k,
                             cfg.smooth_self)


