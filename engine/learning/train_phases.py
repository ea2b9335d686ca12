"""What each DistillHash variant optimises: one or more phases (a head, its optimiser, a step budget, a batch loss).

Equation numbers "(n)" are those of ``docs/distillhash.md``, which gives the papers (DistillHash, SSDH, DSG, DMUH,
rank-preserving hashing) and the choices made where they are silent.

Variants:
  ``graph`` (default): the head starts from the multi-scale diffusion projection (``engine.learning.train_graph``); pairs
    are distilled from the diffusion targets y (confident positives: more similar than the ``pos_quantile`` of
    random pairs; confident negatives: less similar than the ``neg_quantile``; the middle is discarded, as the
    distillation rule discards pairs whose label is not Bayes-consistent), and the asymmetric Bayesian pair
    likelihood p(s_ij = 1) = sigma(u_i . b_j / sqrt(K)) ((9): (5) with the app's asymmetric score) is maximised with an
    L2 pull towards the start.
  ``dsg``: the same pairs with DSG's smooth confidence weights (distance of a pair's similarity from its
    threshold), a priority weight (1 - p_correct)^gamma for pairs the codes do not yet satisfy, and k-means on the
    targets to drop contradictory pairs (positives across clusters, negatives inside one).
  ``dmuh``: a momentum (EMA) copy of the head; the per-bit discrepancy between the two is the bit uncertainty and
    its mean the image uncertainty; uncertain images weigh more in the pair loss and uncertain bits more in the
    quantisation term.
  ``rankpres``: every photo of a batch is a query; the listwise loss KL(P_i || Q_i) asks the asymmetric scores to
    rank the batch as the diffusion targets do (P_i = softmax(y_i . y_j / tau_t), Q_i = softmax(u_i . b_j /
    sqrt(K))).
  ``faithful``: the three stages of the authors' release (random MLP heads, SSDH labels, distillation (4), the NLL (5)).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Phase", "refine_phases", "faithful_phases", "VARIANTS"]

VARIANTS = ("graph", "dsg", "dmuh", "rankpres", "faithful")


@dataclass
class Phase:
    """One optimisation stage: a head, its optimiser, a step count and the loss of one batch."""

    name: str
    head: Any
    opt: Any
    steps: int
    loss: Callable[[np.ndarray], Any]
    before: Callable[[], None] | None = None  # runs when the phase starts (or is resumed into)


def _offdiag(n: int, device):
    import torch

    return 1.0 - torch.eye(n, device=device)


def _sign_ste(v, sharpness: float = 3.0):
    """sign(v) forward, d tanh(sharpness v) backward (straight-through relaxation of the codes)."""
    import torch

    soft = torch.tanh(sharpness * v)
    return soft + (torch.sign(v) - soft).detach()


def _thresholds(y: np.ndarray, lo_q: float, hi_q: float, seed: int) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, len(y), 100_000), rng.integers(0, len(y), 100_000)
    keep = a != b
    sims = np.einsum("ij,ij->i", y[a[keep]], y[b[keep]])
    return float(np.quantile(sims, lo_q)), float(np.quantile(sims, hi_q))


def refine_phases(cfg, head, x_t, z_t, y: np.ndarray, steps: int, seed: int, counts: dict,
                  device) -> list[Phase]:
    """The refinement phase of the ``graph``, ``dsg``, ``dmuh`` and ``rankpres`` variants.

    ``head`` already holds the diffusion start; ``x_t`` are the photos' own features (query side), ``z_t`` their
    neighbourhood features (database side), ``y`` the unit-norm diffusion targets the pairs are distilled from.
    """
    import torch
    import torch.nn.functional as F

    bits = head.proj.out_features
    root_k = math.sqrt(bits)
    y_t = torch.from_numpy(y).to(device)
    neg_below, pos_above = _thresholds(y, cfg.neg_quantile, cfg.pos_quantile, seed)
    w0 = head.proj.weight.detach().clone()
    w0_norm = float(w0.pow(2).sum())
    cluster = None
    if cfg.variant == "dsg":  # global information: k-means on the targets (10)
        import faiss

        k = int(min(256, max(8, round(math.sqrt(len(y) / 4)))))
        km = faiss.Kmeans(y.shape[1], k, niter=20, seed=seed, spherical=True, verbose=False, min_points_per_centroid=1)
        km.train(y)
        cluster = torch.from_numpy(km.index.search(y, 1)[1][:, 0]).to(device)
    ema = copy.deepcopy(head).requires_grad_(False) if cfg.variant == "dmuh" else None

    def pull():
        return cfg.anchor_weight * (head.proj.weight - w0).pow(2).sum() / w0_norm

    def loss(idx: np.ndarray):
        i = torch.from_numpy(idx).to(device)
        u = head(x_t[i])
        code = _sign_ste(head(z_t[i]))
        omega = u @ code.T / root_k
        m = _offdiag(len(idx), device)
        sim = y_t[i] @ y_t[i].T
        if cfg.variant == "rankpres":  # listwise: the batch ranked as the targets rank it (12)
            target = torch.softmax(sim / cfg.rank_temperature - 1e4 * (1 - m), dim=1)
            logq = torch.log_softmax(omega - 1e4 * (1 - m), dim=1)
            counts["all"] += float(len(idx) * (len(idx) - 1))
            return (target * (torch.log(target.clamp_min(1e-12)) - logq)).sum(1).mean() + pull()
        s = (sim > pos_above).float() * m
        neg = (sim < neg_below).float() * m
        if cluster is not None:  # DSG: drop pairs that contradict the clustering
            same = (cluster[i][:, None] == cluster[i][None, :]).float()
            s, neg = s * same, neg * (1 - same)
        npos, nneg = float(s.sum()), float(neg.sum())
        counts["pos"] += npos
        counts["neg"] += nneg
        counts["all"] += float(len(idx) * (len(idx) - 1))
        w = s * min(cfg.pos_weight_cap, max(1.0, nneg / max(npos, 1.0))) + neg
        if cfg.variant == "dsg":  # smooth confidence: how far a pair lies beyond its threshold
            conf = torch.where(s > 0, (sim - pos_above) / max(1.0 - pos_above, 1e-6),
                               (neg_below - sim) / max(neg_below + 1.0, 1e-6)).clamp(0, 1).sqrt()
            p_right = torch.sigmoid(torch.where(s > 0, omega, -omega)).detach()
            w = w * conf * (1.0 - p_right) ** cfg.priority_gamma
        extra = 0.0
        if ema is not None:  # DMUH: bit uncertainty = discrepancy with the momentum head
            with torch.no_grad():
                unc_bits = (torch.tanh(u) - torch.tanh(ema(x_t[i]))).abs()
                unc_img = unc_bits.mean(1)
                w = w * (1.0 + (unc_img[:, None] + unc_img[None, :]) / (2 * unc_img.mean().clamp_min(1e-6)))
            extra = cfg.quant_weight * ((1.0 + unc_bits) * (torch.tanh(u).abs() - 1.0).pow(2)).mean()
        nll = F.softplus(omega) - s * omega
        return (w * nll).sum() / w.sum().clamp_min(1.0) + pull() + extra

    opt = torch.optim.Adam(head.parameters(), lr=cfg.lr or 1e-4)
    phase = Phase(cfg.variant, head, opt, steps, loss)
    if ema is not None:
        step_fn = phase.loss

        def loss_with_momentum(idx):
            with torch.no_grad():  # EMA update of the momentum head, once per step
                for pe, p in zip(ema.parameters(), head.parameters()):
                    pe.mul_(cfg.momentum).add_(p.detach(), alpha=1 - cfg.momentum)
            return step_fn(idx)

        phase.loss = loss_with_momentum
    return [phase]


# ------------------------------------------------------------------------------------------------ faithful

def _init_random(head, gen) -> None:
    import torch

    with torch.no_grad():
        for m in head.modules():
            if isinstance(m, torch.nn.Linear):
                bound = 1.0 / math.sqrt(m.in_features)
                torch.nn.init.uniform_(m.weight, -bound * math.sqrt(3), bound * math.sqrt(3), generator=gen)
                m.bias.zero_()


def _pair_nll(h, s, w):
    """NLL of pair labels under p(s_ij = 1 | h) = sigma(Omega_ij), Omega = 1/2 h_i^T h_j (5)."""
    import torch

    omega = 0.5 * h @ h.T
    nll = torch.nn.functional.softplus(omega) - s * omega
    return (w * nll).sum() / w.sum().clamp_min(1.0)


def _distill(h1, knn_t, idx_t, o: int, offset: int):
    """Distilled labels D in {+1, -1, 0} for all pairs of a batch (4), the release's indexing bug fixed.

    P~_ij = sigma(1/2 h_i^T h_j) from the stage-1 outputs; local flip rates from the o x o neighbour pairs:
    rho_-(i,j) = min_{a in N'(i), b in N'(j)} P~_ab, rho_+(i,j) = min_{a in N(i), b in N(j)} (1 - P~_ab);
    D = +1 if P~ > (1 + rho_-)/2, -1 if P~ < (1 - rho_+)/2, else 0. sigma is monotone, so the minima are taken on
    the inner products and never form the |I|^2 o^2 probabilities.
    """
    import torch

    hb = h1[idx_t]
    p = torch.sigmoid(0.5 * hb @ hb.T)
    b = len(idx_t)
    near = h1[knn_t[idx_t, :o]].reshape(b * o, -1)  # N(i): ranks 0 .. o-1
    far = h1[knn_t[idx_t, offset : offset + o]].reshape(b * o, -1)  # N'(i): ranks p .. p+o-1
    max_near = (near @ near.T).reshape(b, o, b, o).amax(dim=(1, 3))
    min_far = (far @ far.T).reshape(b, o, b, o).amin(dim=(1, 3))
    rho_plus = 1.0 - torch.sigmoid(0.5 * max_near)
    rho_minus = torch.sigmoid(0.5 * min_far)
    d = torch.zeros_like(p)
    d[p > (1.0 + rho_minus) / 2] = 1.0
    d[p < (1.0 - rho_plus) / 2] = -1.0
    d.fill_diagonal_(0.0)
    return d


def faithful_phases(x_t, knn, cfg, bits: int, gen, d_l: float, counts, device, build_head,
                    budget: Callable[[float], int]) -> list[Phase]:
    """The release's stages 1 and 3 (stage 2, distillation, runs on the fly per batch)."""
    import torch

    n, d = x_t.shape
    head1 = build_head(d, bits, cfg.hidden).to(device)
    head3 = build_head(d, bits, cfg.hidden).to(device)
    _init_random(head1, gen)
    _init_random(head3, gen)
    knn_t = torch.from_numpy(knn).to(device)
    cache: dict[str, Any] = {}

    def stage1(idx: np.ndarray):
        """|S~| (h_i^T h_j / K - S~_ij)^2 with S~ = +1 iff d_ij < d_l, else -1 (2), (3)."""
        i = torch.from_numpy(idx).to(device)
        xb = x_t[i]
        s = torch.where(1.0 - xb @ xb.T < d_l, 1.0, -1.0)
        h = torch.tanh(head1(xb))
        m = _offdiag(len(idx), device)
        return (m * (h @ h.T / bits - s) ** 2).sum() / m.sum().clamp_min(1.0)

    def stage2() -> None:
        with torch.no_grad():
            cache["h1"] = torch.cat([torch.tanh(head1(x_t[s : s + 8192])) for s in range(0, n, 8192)])

    def stage3(idx: np.ndarray):
        """Bayesian NLL (5) on distilled pairs, positives re-weighted, + lambda ||h - sign h||^2."""
        i = torch.from_numpy(idx).to(device)
        dmat = _distill(cache["h1"], knn_t, i, cfg.knn, cfg.knn_offset)
        counts["pos"] += float((dmat > 0).sum())
        counts["neg"] += float((dmat < 0).sum())
        counts["all"] += float(len(idx) * (len(idx) - 1))
        s = (dmat > 0).float()
        w = (dmat != 0).float()
        npos, nneg = float(s.sum()), float(w.sum() - s.sum())
        w = w * torch.where(s > 0, min(cfg.pos_weight_cap, max(1.0, nneg / max(npos, 1.0))), 1.0)
        h = torch.tanh(head3(x_t[i]))
        return _pair_nll(h, s, w) + cfg.quant_weight * (h - h.detach().sign()).pow(2).mean()

    adam = dict(lr=cfg.lr or 1e-3, eps=1.0 if cfg.adam_eps is None else cfg.adam_eps)  # release: Adam(epsilon=1.0)
    return [
        Phase("stage1", head1, torch.optim.Adam(head1.parameters(), **adam), budget(cfg.stage1_epochs), stage1),
        Phase("stage3", head3, torch.optim.Adam(head3.parameters(), **adam), budget(cfg.refine_epochs), stage3,
              before=stage2),
    ]
