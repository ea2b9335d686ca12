"""What the similarity percentages mean, per model and per library: anchors measured on the library itself.

A result's percentage is a monotonic map of the score results are ordered by (``engine.codes.binary.blended_scores``),
so the numbers never contradict the order. One fixed map cannot mean the same for every model: learning gathers
each photo's neighbours, so every score rises (on 245 garment photos the nearest photo's median score went from
1.10 to 1.31), and a small library has fewer photos of each kind, so its best matches score lower than a large one's.
A fixed line then calls almost every result of a trained model "similar" and answers "no close match" to every
other click on a small library (measured: bench.clicks).

So the map is anchored on the library's own photos, for each model: a sample of photos is searched as the app
searches, and the score of each one's nearest photo is noted. The anchors are quantiles of those scores:

- ``CLOSE_QUANTILE`` (60 %, the close-match line): nine photos in ten of the library have a photo at least this close;
- ``VERY_QUANTILE`` (80 %, "very similar"): as close as the nearest photo of half of the library's photos;
- ``COPY_QUANTILE`` (95 %, near-identical): closer than the nearest photo of 97 % of them, and never below the score
  pixel-confirmed copies are floored at (``COPY_FLOOR``), so edited copies always read as near-identical.

Within one answer, a result far below the best match is called less similar than its score alone says
(``RELATIVE``): its score loses ``RELATIVE`` times its gap to the best result that is not near-identical. The best
result keeps its score, so the close line still means what it says above; results further down only drop, never in
a way that changes the order. Measured with bench.clicks (100 random clicks, the same clicks answered "No close
match"): the close results of the clicked kind on the demo clothes went from .80 to .85, on 1,462 look-alike
garments from .69 to .81, with 2 to 3 times fewer close results a click.

The full table (before and after learning, against the fixed map): README, "What the percentages mean".
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

__all__ = ["Calibration", "FIXED", "from_nearest", "CLOSE_QUANTILE", "VERY_QUANTILE", "COPY_QUANTILE", "COPY_FLOOR",
           "SAMPLE", "RELATIVE"]

CLOSE_QUANTILE = 0.10
VERY_QUANTILE = 0.50
COPY_QUANTILE = 0.97
COPY_FLOOR = 1.4  # blended score of a copy the pixel check confirmed, before its texture bonus (engine.codes.search)
SAMPLE = 300  # photos searched to measure the anchors (about a second at any library size)
MIN_PHOTOS = 20  # fewer photos than this: too few nearest photos to measure, the fixed anchors apply
GAP = 0.02  # least score between two anchors, so the map stays strictly increasing
RELATIVE = 1.0  # how much of its gap to the answer's best (not near-identical) result a result's score loses


@dataclass(frozen=True)
class Calibration:
    """Blended scores that map to 60, 80 and 95 %, measured for ``model`` on ``photos`` photos (0: not measured)."""

    close: float
    very: float
    copy: float
    model: int = 0
    photos: int = 0

    @property
    def anchors(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """(scores, percents) of the piecewise-linear map: 0 % at the lowest score, 30 % half a point below the
        close line, then 60, 80, 95 and 100 % at the highest score."""
        return ((-1.5, self.close - 0.5, self.close, self.very, self.copy, 1.5), (0.0, 30.0, 60.0, 80.0, 95.0, 100.0))

    def percent(self, blended: np.ndarray | float) -> np.ndarray:
        """Blended scores in percent: piecewise linear and strictly increasing, so the order is kept."""
        scores, percents = self.anchors
        return np.interp(np.asarray(blended, dtype=np.float64), scores, percents)

    def answer_percent(self, blended: np.ndarray) -> np.ndarray:
        """The percentages of one answer's results (``blended`` in the answer's order): ``percent`` of each score
        less ``RELATIVE`` times its gap to the best result below the near-identical line (none: the scores alone).
        For a fixed best result the adjusted score increases with the score, so the order is kept."""
        b = np.asarray(blended, dtype=np.float64)
        below = b[b < self.copy]
        if not len(below):
            return self.percent(b)
        best = float(below.max())
        return self.percent(b - RELATIVE * np.maximum(0.0, best - b))

    def copy_score(self, texture: float) -> float:
        """The score a pixel-confirmed copy is raised to (its texture correlation in [0, 1]): 95-100 %."""
        return self.copy + (1.5 - self.copy) * float(np.clip(texture, 0.0, 1.0))

    def to_json(self) -> str:
        return json.dumps({"close": self.close, "very": self.very, "copy": self.copy, "model": self.model,
                           "photos": self.photos})

    @classmethod
    def from_json(cls, text: str | None) -> Calibration | None:
        """The stored calibration, or None when there is none or it cannot be read (it is measured again)."""
        try:
            d = json.loads(text or "")
            cal = cls(float(d["close"]), float(d["very"]), float(d["copy"]), int(d["model"]), int(d["photos"]))
        except (ValueError, TypeError, KeyError):
            return None
        ok = -1.0 < cal.close < cal.very < cal.copy < 1.5 and all(np.isfinite([cal.close, cal.very, cal.copy]))
        return cal if ok else None

    def fits(self, model: int, photos: int) -> bool:
        """Whether it was measured for this model on about this many photos (within 10 %, or 50 photos)."""
        return self.model == model and abs(self.photos - photos) <= max(50, 0.1 * photos)


FIXED = Calibration(1.0, 1.2, COPY_FLOOR)  # measured once with the demo clothes: the map before per-library anchors


def from_nearest(nearest: np.ndarray, model: int, photos: int) -> Calibration:
    """Anchors from the scores of sampled photos' nearest photos (``measure``), kept strictly increasing."""
    s = np.asarray(nearest, dtype=np.float64)
    s = s[np.isfinite(s)]
    if len(s) < MIN_PHOTOS:
        return Calibration(FIXED.close, FIXED.very, FIXED.copy, model, photos)
    copy = min(max(COPY_FLOOR, float(np.quantile(s, COPY_QUANTILE))), 1.5 - GAP)
    very = min(float(np.quantile(s, VERY_QUANTILE)), copy - GAP)
    close = min(float(np.quantile(s, CLOSE_QUANTILE)), very - GAP)
    return Calibration(round(close, 4), round(very, 4), round(copy, 4), model, photos)
