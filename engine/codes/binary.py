"""Training-free binary codes from backbone features: LSH, PCA-sign and ITQ (numpy only).

These give a searchable collection minutes after indexing, before DistillHash has trained, and they are the
baselines the retrieval bench compares DistillHash against on the same features.

ITQ: Y. Gong, S. Lazebnik, "Iterative Quantization: A Procrustean Approach to Learning Binary Codes", CVPR 2011.
V = PCA_K(X - mean); alternate B = sign(V R) and R = argmin ||B - V R||_F (orthogonal Procrustes: U S W^T = svd(V^T B),
R = U W^T) for ``iters`` rounds.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

__all__ = ["popcount", "LinearCoder", "fit_lsh", "fit_pca", "fit_itq", "fit", "pack_signs", "l2_normalize", "asymmetric_scores",
           "shortlist_size", "refine_size", "blended_scores", "FEATURE_WEIGHT", "itq_rotation",
           "FeatureDecoder", "fit_decoder"]

Floats = npt.NDArray[np.float32]
Codes = npt.NDArray[np.uint8]

BITS_CHOICES = (16, 32, 64, 128)


def popcount(x: npt.NDArray) -> npt.NDArray[np.uint8]:
    """Set bits per row of a 2-d array of unsigned or non-negative integers (at most 255 a row): the Hamming
    distance of XOR-ed codes. ``numpy.bitwise_count`` where numpy has it (2.0+), a byte table otherwise."""
    if hasattr(np, "bitwise_count"):
        counts = np.bitwise_count(x)
        return counts[:, 0] if x.shape[1] == 1 else counts.sum(axis=1, dtype=np.uint8)
    as_bytes = np.ascontiguousarray(x).view(np.uint8).reshape(len(x), -1)
    return _BYTE_BITS[as_bytes].sum(axis=1, dtype=np.uint8)


_BYTE_BITS = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1).sum(axis=1).astype(np.uint8)


def l2_normalize(x: npt.ArrayLike) -> Floats:
    """Rows scaled to unit length (zero rows stay zero)."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def pack_signs(projected: npt.ArrayLike) -> Codes:
    """Bit i of a code is 1 where ``projected[:, i] > 0``; packed big-endian into bytes, as faiss expects."""
    return np.packbits(np.asarray(projected) > 0, axis=1)


def asymmetric_scores(projection: npt.ArrayLike, codes: npt.ArrayLike) -> Floats:
    """Asymmetric similarity of real-valued query projections to stored binary codes: ``p . (2 b - 1)``.

    The query keeps its pre-sign outputs (no quantisation on its side); only the database is binary, so the score
    ranks a Hamming shortlist more finely than the distance itself (Gordo et al., "Asymmetric distances for binary
    embeddings", TPAMI 2014). ``projection`` is (bits,) or (nq, bits); ``codes`` (n, bits // 8) packed as
    ``pack_signs``. Returns (n,) or (nq, n); larger = more similar.
    """
    p = np.asarray(projection, dtype=np.float32)
    signs = np.unpackbits(np.asarray(codes, dtype=np.uint8), axis=1, count=p.shape[-1]).astype(np.float32)
    return p @ (signs * 2.0 - 1.0).T


FEATURE_WEIGHT = 0.5  # weight of the feature cosine against the code match when the best results are refined


def refine_size(k: int) -> int:
    """How many of the best re-ranked candidates are refined with their stored features to return ``k``."""
    return 2 * k + 16


def blended_scores(match: npt.ArrayLike, cosine: npt.ArrayLike) -> Floats:
    """Final order of the refined candidates: code match (asymmetric score / sum |p|, in [-1, 1]) plus
    ``FEATURE_WEIGHT`` x the cosine of the stored backbone features. The codes decide which photos are candidates
    and carry the collection's structure; the exact features separate near-duplicates the 64 bits cannot."""
    return np.asarray(match, dtype=np.float32) + FEATURE_WEIGHT * np.asarray(cosine, dtype=np.float32)


def shortlist_size(k: int, n: int) -> int:
    """How many Hamming neighbours are re-ranked by ``asymmetric_scores`` to return ``k`` (all of a small library)."""
    return min(n, max(8 * k, 512))


@dataclass
class LinearCoder:
    """code = pack(sign((normalize(x) - mean) @ W)); one object for LSH, PCA-sign and ITQ.

    Attributes:
        kind: ``lsh``, ``pca`` or ``itq``.
        mean: centre subtracted before projecting (d,).
        weight: projection (d, bits).
        meta: numbers worth keeping with the coder (e.g. how many photos it was fitted on).
    """

    kind: str
    mean: Floats
    weight: Floats
    meta: dict[str, float] = field(default_factory=dict)

    @property
    def bits(self) -> int:
        return int(self.weight.shape[1])

    def project(self, features: npt.ArrayLike) -> Floats:
        """Real-valued pre-sign outputs (n, bits)."""
        x = l2_normalize(features)
        return (x - self.mean) @ self.weight

    def encode(self, features: npt.ArrayLike, batch: int = 65536) -> Codes:
        """Packed binary codes (n, bits // 8), computed in batches so 1M rows stay within memory."""
        features = np.asarray(features)
        out = np.empty((len(features), self.bits // 8), dtype=np.uint8)
        for start in range(0, len(features), batch):
            out[start : start + batch] = pack_signs(self.project(features[start : start + batch]))
        return out

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        meta_keys = np.array(list(self.meta.keys()), dtype=str)
        meta_vals = np.array(list(self.meta.values()), dtype=np.float64)
        np.savez(buf, kind=np.array(self.kind), mean=self.mean, weight=self.weight, meta_keys=meta_keys,
                 meta_vals=meta_vals)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> LinearCoder:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            meta = {str(k): float(v) for k, v in zip(z["meta_keys"], z["meta_vals"])}
            return cls(str(z["kind"]), z["mean"].astype(np.float32), z["weight"].astype(np.float32), meta)

    def save(self, path: Path) -> None:
        Path(path).write_bytes(self.to_bytes())

    @classmethod
    def load(cls, path: Path) -> LinearCoder:
        return cls.from_bytes(Path(path).read_bytes())


def _check_bits(bits: int) -> None:
    if bits % 8 or bits <= 0:
        raise ValueError(f"code length must be a positive multiple of 8, got {bits}")


def fit_lsh(features: npt.ArrayLike, bits: int, seed: int = 0) -> LinearCoder:
    """Sign random projections (Charikar 2002) of centred, normalised features."""
    _check_bits(bits)
    x = l2_normalize(features)
    rng = np.random.default_rng(seed)
    weight = rng.standard_normal((x.shape[1], bits)).astype(np.float32)
    return LinearCoder("lsh", x.mean(axis=0), weight, {"n_fit": float(len(x))})


def _pca(x: Floats, bits: int, seed: int = 0, iters: int = 8) -> tuple[Floats, Floats]:
    """Mean and top-``bits`` principal directions (d, bits) of x.

    Randomised subspace iteration on the d x d covariance (Halko, Martinsson, Tropp 2011, alg. 4.4) with
    ``bits + 16`` oversampled directions: a full ``eigh`` of 1280 x 1280 takes seconds with some BLAS builds,
    this takes tens of milliseconds and matches it to well within what ITQ's rotation absorbs.
    """
    if len(x) <= bits:
        raise ValueError(f"PCA to {bits} dimensions needs more than {bits} photos, got {len(x)}")
    mean = x.mean(axis=0)
    xc = x - mean
    cov = (xc.T @ xc) / max(len(x) - 1, 1)
    width = min(bits + 16, cov.shape[0])
    q = np.random.default_rng(seed).standard_normal((cov.shape[0], width)).astype(np.float32)
    for _ in range(iters):
        q, _ = np.linalg.qr(cov @ q)
    vals, vecs = np.linalg.eigh((q.T @ cov @ q).astype(np.float64))
    order = np.argsort(vals)[::-1][:bits]
    return mean, (q @ vecs[:, order]).astype(np.float32)


def fit_pca(features: npt.ArrayLike, bits: int, seed: int = 0) -> LinearCoder:
    """Sign of the top-``bits`` principal components."""
    _check_bits(bits)
    x = l2_normalize(features)
    mean, comps = _pca(x, bits, seed)
    return LinearCoder("pca", mean, comps, {"n_fit": float(len(x))})


def fit_itq(features: npt.ArrayLike, bits: int, seed: int = 0, iters: int = 50) -> LinearCoder:
    """ITQ (Gong & Lazebnik 2011): PCA then an orthogonal rotation that minimises quantisation error."""
    _check_bits(bits)
    x = l2_normalize(features)
    mean, comps = _pca(x, bits, seed)
    rot = itq_rotation((x - mean) @ comps, seed=seed, iters=iters)
    return LinearCoder("itq", mean, (comps @ rot).astype(np.float32), {"n_fit": float(len(x))})


@dataclass
class FeatureDecoder:
    """Approximate backbone features reconstructed from binary codes: x ~ normalize(mean + (2 b - 1) @ weight).

    Rank-preserving hashing (Karaman et al., ICMR 2019) re-ranks a Hamming shortlist with such reconstructions so
    that no float features need to be read at query time; ``bench.retrieval`` measures what that costs in quality.
    """

    mean: Floats
    weight: Floats  # (bits, d)

    def decode(self, codes: npt.ArrayLike) -> Floats:
        signs = np.unpackbits(np.asarray(codes, dtype=np.uint8), axis=1, count=self.weight.shape[0])
        return l2_normalize(self.mean + (signs.astype(np.float32) * 2.0 - 1.0) @ self.weight)


def fit_decoder(codes: npt.ArrayLike, features: npt.ArrayLike, ridge: float = 1.0) -> FeatureDecoder:
    """Least-squares decoder from codes to their photos' normalised features (closed-form ridge regression)."""
    x = l2_normalize(features)
    mean = x.mean(axis=0)
    bits = np.asarray(codes).shape[1] * 8
    b = np.unpackbits(np.asarray(codes, dtype=np.uint8), axis=1, count=bits).astype(np.float64) * 2.0 - 1.0
    w = np.linalg.solve(b.T @ b + ridge * np.eye(bits), b.T @ (x - mean))
    return FeatureDecoder(mean.astype(np.float32), w.astype(np.float32))


def itq_rotation(v: npt.ArrayLike, seed: int = 0, iters: int = 50) -> Floats:
    """ITQ's orthogonal rotation R of centred projections v (n, bits): alternate B = sign(v R) and the Procrustes
    solution R = U W^T of svd(v^T B), from a seeded random rotation."""
    v = np.asarray(v, dtype=np.float32)
    bits = v.shape[1]
    rot, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((bits, bits)))
    rot = rot.astype(np.float32)
    for _ in range(iters):
        b = np.where(v @ rot >= 0, 1.0, -1.0).astype(np.float32)
        u, _, wt = np.linalg.svd(v.T @ b)
        rot = (u @ wt).astype(np.float32)
    return rot


_FITTERS = {"lsh": fit_lsh, "pca": fit_pca, "itq": fit_itq}


def fit(kind: str, features: npt.ArrayLike, bits: int, seed: int = 0) -> LinearCoder:
    """Fit a training-free coder by name (``lsh``, ``pca`` or ``itq``)."""
    try:
        fitter = _FITTERS[kind]
    except KeyError:
        raise ValueError(f"unknown code kind {kind!r}; choose one of {sorted(_FITTERS)}") from None
    return fitter(features, bits, seed=seed)
