"""The collection's local structure for training: kNN graph, SSDH thresholds, neighbourhood features, and the
multi-scale diffusion targets that the default DistillHash head starts from (``docs/distillhash.md``).

DistillHash's first step is an initial, noisy similarity learned from local structure (``docs/distillhash.md``
(2): SSDH's thresholds). On a few thousand photos, pairs labelled from that local
structure alone (kNN positives, everything else negative) push whole classes apart: most pairs of one large class
are neither kNN nor near-duplicates. Here the local similarity is *propagated* over the kNN graph instead: the
diffusion of the graph at a short and a long time gives one similarity per scale (same product, same kind of
thing), and a linear map from a photo's own feature is fitted to preserve them. That map, rotated by ITQ, is the
head that training starts from; pair distillation and the Bayesian loss then refine it (``engine.learning.train``).

No N x N matrix is formed: the graph is N x k, its normalised adjacency is applied with gathers and index_add, and
the top of its spectrum comes from subspace iteration (Saad, "Numerical Methods for Large Eigenvalue Problems",
ch. 5). torch is used because training has it (and a GPU when there is one).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

__all__ = ["knn_graph", "ssdh_thresholds", "neighbourhood_features", "diffusion_embedding", "diffusion_start"]


def knn_graph(x: npt.NDArray[np.float32], k: int) -> npt.NDArray[np.int64]:
    """Indices of the k nearest neighbours by cosine (rank 0 = the photo itself), shape (N, k + 1).

    Exact inner-product search up to 50k photos; IVF beyond (recall is plenty for building training pairs).
    """
    import faiss

    n, d = x.shape
    k = min(k + 1, n)
    if n <= 50_000:
        index = faiss.IndexFlatIP(d)
    else:
        nlist = int(4 * math.sqrt(n))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, nlist, faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(0)
        index.train(x[rng.choice(n, size=min(n, 64 * nlist), replace=False)])
        index.nprobe = 16
    index.add(x)
    _, idx = index.search(x, k)
    # Put self at rank 0 (duplicates can tie with it) and patch the rare -1 of an IVF miss with self.
    rows = np.arange(n)
    idx = np.where(idx < 0, rows[:, None], idx)
    is_self = idx == rows[:, None]
    has_self = is_self.any(axis=1)
    self_pos = is_self.argmax(axis=1)
    swap = idx[rows, 0].copy()
    idx[rows[has_self], self_pos[has_self]] = swap[has_self]
    idx[:, 0] = rows
    return idx.astype(np.int64)


def ssdh_thresholds(x: npt.NDArray[np.float32], sigma: float = 2.0, pairs: int = 200_000,
                    seed: int = 0) -> tuple[float, float]:
    """SSDH thresholds d_l, d_r (docs/distillhash.md (2)) from a sample of cosine distances.

    Histogram mode m*, each side mirrored around m* and fitted with a Gaussian; d_l = m_l - sigma s_l,
    d_r = m_r + sigma s_r. The histogram spans the sample's 0.1-99.9 % quantiles (200 bins), not the release's fixed
    [0, 1], because normalised CNN features are not non-negative.
    """
    rng = np.random.default_rng(seed)
    n = len(x)
    i = rng.integers(0, n, pairs)
    j = rng.integers(0, n, pairs)
    keep = i != j
    d = 1.0 - np.einsum("ij,ij->i", x[i[keep]], x[j[keep]])
    lo, hi = np.quantile(d, [0.001, 0.999])
    counts, edges = np.histogram(d, bins=200, range=(lo, hi))
    mode = float(edges[np.argmax(counts)])
    left, right = d[d <= mode], d[d > mode]
    sl = float(np.sqrt(np.mean((left - mode) ** 2))) if len(left) else 0.0  # mirrored: mean = mode
    sr = float(np.sqrt(np.mean((right - mode) ** 2))) if len(right) else 0.0
    return mode - sigma * sl, mode + sigma * sr


def neighbourhood_features(x: np.ndarray, knn: np.ndarray, k: int, self_weight: float) -> np.ndarray:
    """z_i = normalise(self_weight x_i + (1 - self_weight) mean_{j in kNN_k(i)} x_j): the feature a trained library
    stores a photo's code of (the database side; queries keep their own feature)."""
    from engine.codes.binary import l2_normalize

    k = min(k, knn.shape[1] - 1)
    if k <= 0:
        return x.copy()
    out = np.empty_like(x)
    for s in range(0, len(x), 8192):
        nb = x[knn[s : s + 8192, 1 : k + 1]].mean(axis=1)
        out[s : s + 8192] = self_weight * x[s : s + 8192] + (1.0 - self_weight) * nb
    return l2_normalize(out)


def diffusion_embedding(x: np.ndarray, knn: np.ndarray, k: int, dims: int, iters: int = 60, seed: int = 0,
                        device=None) -> tuple[np.ndarray, np.ndarray]:
    """The top ``dims`` non-trivial eigenvectors of the graph's normalised affinity and their eigenvalues (6), (7).

    Affinity: heat kernel w_ij = exp((cos_ij - 1) / t) on the kNN_k edges (t = mean cosine distance of the edges),
    symmetrised (W + W^T) / 2; M = D^-1/2 W D^-1/2 has eigenvalues in [-1, 1], and the diffusion map at time s
    weights eigenvector u_m by lambda_m^s (Coifman and Lafon, "Diffusion maps", ACHA 2006). Vectors are returned as
    D^-1/2 u (random-walk eigenvectors), unit columns; eigenvalues clipped to [0, 1].
    """
    import torch

    dev = device or torch.device("cpu")
    n = len(x)
    k = min(k, knn.shape[1] - 1)
    dims = min(dims, n - 2)
    nb = torch.from_numpy(np.ascontiguousarray(knn[:, 1 : k + 1])).to(dev)
    xt = torch.from_numpy(x).to(dev)
    cos = torch.einsum("nd,nkd->nk", xt, xt[nb])
    w = torch.exp((cos - 1.0) / (1.0 - cos).mean().clamp_min(1e-6))
    rows = torch.arange(n, device=dev).repeat_interleave(k)
    half = w.ravel() / 2
    sym = torch.sparse_coo_tensor(torch.stack([torch.cat([rows, nb.ravel()]), torch.cat([nb.ravel(), rows])]),
                                  torch.cat([half, half]), (n, n), check_invariants=True).coalesce()  # (W + W^T) / 2, N x k nonzeros
    dm = torch.sparse.sum(sym, dim=1).to_dense().clamp_min(1e-12).rsqrt()

    def apply(q):  # (M + I) q, without forming M
        return dm[:, None] * torch.sparse.mm(sym, q * dm[:, None]) + q

    gen = torch.Generator().manual_seed(seed)
    q = torch.linalg.qr(torch.randn(n, dims + 1, generator=gen).to(dev))[0]
    for _ in range(iters):
        q = torch.linalg.qr(apply(q))[0]
    vals, vecs = torch.linalg.eigh(q.T @ apply(q))
    order = torch.argsort(vals, descending=True)
    vecs = (q @ vecs[:, order])[:, 1:] * dm[:, None]  # drop the stationary vector
    vecs = vecs / vecs.norm(dim=0, keepdim=True).clamp_min(1e-12)
    lam = (vals[order][1:] - 1.0).clamp(0.0, 1.0)
    return vecs.cpu().numpy().astype(np.float32), lam.cpu().numpy().astype(np.float32)


def diffusion_start(x: np.ndarray, z: np.ndarray, knn: np.ndarray, bits: int, *, graph_k: int = 10,
                    times: tuple[int, ...] = (2, 32, 128), ridge: float = 1.0, seed: int = 0,
                    device=None) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """A linear hash projection that preserves the collection's similarity at several diffusion scales (8).

    Targets, for every training photo: its own centred neighbourhood feature z_i - mu (instance scale) and its
    diffusion coordinates Y_s = U diag(lambda^s) at each time s in ``times`` (short: same object or product; long:
    same kind of thing). Each scale gets a ridge map from z - mu and equal weight (mean row norm 1); the stacked
    map is reduced to ``bits`` dimensions by PCA and rotated by ITQ (Gong and Lazebnik, CVPR 2011), so that sign
    codes lose as little as possible. Returns (mu, W) with logits = (l2norm(x) - mu) @ W (mean |logit| 1 on the
    training photos), and diagnostics.
    """
    import torch

    from engine.codes.binary import itq_rotation

    mu = z.mean(axis=0)
    xc = (z - mu).astype(np.float32)
    # A diffusion time beyond ~N/16 steps mixes a small graph completely: keep the two shortest times always, and
    # longer ones only for collections large enough to have structure at that scale.
    times = tuple(s for i, s in enumerate(sorted(times)) if i < 2 or s <= len(z) / 16)
    vecs, lam = diffusion_embedding(x, knn, graph_k, max(bits, 64), seed=seed, device=device)
    # Everything below works on d x d and d x 64 products: the N x d features are read three times, never copied.
    cov = (xc.T @ xc).astype(np.float64)
    maps = [np.eye(xc.shape[1]) / np.linalg.norm(xc, axis=1).mean()]
    for s in times:
        m = np.linalg.solve(cov + ridge * np.eye(len(cov)), (xc.T @ (vecs * lam[None] ** s)).astype(np.float64))
        maps.append(m / max(float(np.linalg.norm(xc @ m.astype(np.float32), axis=1).mean()), 1e-12))
    stacked = np.concatenate(maps, axis=1)
    evals, evecs = torch.linalg.eigh(torch.from_numpy(stacked.T @ cov @ stacked))  # PCA of the stacked targets
    top = torch.argsort(evals, descending=True)[:bits]
    proj = (stacked @ evecs[:, top].numpy()).astype(np.float32)
    rot = itq_rotation(xc @ proj, seed=seed)
    w = proj @ rot
    w = (w / max(float(np.abs(xc @ w).mean()), 1e-12)).astype(np.float32)  # mean |logit| 1: the losses' scale
    kept = float(evals[top].sum() / evals.sum())
    return mu.astype(np.float32), w, {"diffusion_lambda_2": float(lam[0]), "diffusion_lambda_64": float(lam[-1]),
                                      "start_variance_kept": kept, "diffusion_scales": float(len(times))}
