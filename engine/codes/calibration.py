"""What the similarity percentages mean, per model and per library: anchors measured on the library itself.

A result's percentage is a monotonic map of the score results are ordered by (``engine.codes.binary.blended_scores``),
so the numbers never contradict the order. One fixed map cannot mean the same for every model: learning gathers
each photo's neighbours, so every score rises (on 245 garment photos the nearest photo's median score went from
1.10 to 1.31), and a small library has fewer photos of each kind, so its best matches score lower than a large one's.
A fixed line then calls almost every result of a trained model "similar" and answers "no close match" to every
other click on a small library (measured: bench.clicks).

So the map is anchored on the library's own photos, for each model: a sample of photos is searched as the app
searches, and the score of each one's nearest photo is noted. The anchors are quantiles of those scores:

- ``CLOSE_QUANTILE`` (60 %, the close-match line): four photos in five of the library have a photo at least this
  close;
- ``VERY_QUANTILE`` (80 %, "very similar"): as close as the nearest photo of half of the library's photos;
- ``COPY_QUANTILE`` (95 %, near-identical): closer than the nearest photo of 97 % of them, and never below the score
  pixel-confirmed copies are floored at (``COPY_FLOOR``), so edited copies always read as near-identical;
- ``FLOOR_QUANTILE`` (the outlier line): only one photo in 25 has its nearest photo further than this.

Within one answer the percentages also depend on the best result (not near-identical), because whether a result is
of the clicked photo's kind depends on its rank as well as its score (on 1,462 look-alike garments the first result
is of the kind 2 times in 3, the tenth one time in 2):

- a result far below the best one reads less similar than its score alone (``RELATIVE``): its score loses
  ``RELATIVE`` times its gap to the best;
- the best result of a library photo that is not an outlier (its score above the floor line) reads at least
  "similar": when it is below the close line, the whole answer is raised until it sits on the line. A photo then
  gets "No close match" only when it is among the library's loneliest, instead of one click in ten by construction.
  An image from outside the library (dropped, or given with ``--image``) is not raised: the floor line says how
  lonely the library's own photos are, not whether the library holds anything like a stranger (an avocado dropped
  on a library of clothes scores as close as the loneliest garment does, and has no close match).

Both keep the order of the answer. Measured with bench.clicks clicking every photo that has 10 others of its kind
(``--clicks 0``), against the map before (close line at the 10 % quantile, nothing raised, ``RELATIVE`` 1, replayed
on the same answers): on the demo clothes "No close match" went from 9.4 % of clicks to 4.1 % before learning and
from 9.8 % to 4.1 % after, the close results of the clicked kind from .814 to .817 and from .846 to .854; on 1,462
look-alike garments from 7.4 % to 3.9 % and from 7.9 % to 2.7 %, precision from .768 to .814 and from .760 to .856.

The full table (before and after learning, against the fixed map): README, "What the percentages mean".
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

__all__ = ["Calibration", "FIXED", "from_nearest", "CLOSE_QUANTILE", "VERY_QUANTILE", "COPY_QUANTILE", "COPY_FLOOR",
           "FLOOR_QUANTILE", "SAMPLE", "RELATIVE"]

CLOSE_QUANTILE = 0.20
FLOOR_QUANTILE = 0.04
VERY_QUANTILE = 0.50
COPY_QUANTILE = 0.97
COPY_FLOOR = 1.4  # blended score of a copy the pixel check confirmed, before its texture bonus (engine.codes.search)
SAMPLE = 300  # photos searched to measure the anchors (about a second at any library size)
MIN_PHOTOS = 20  # fewer photos than this: too few nearest photos to measure, the fixed anchors apply
GAP = 0.02  # least score between two anchors, so the map stays strictly increasing
RELATIVE = 1.5  # how much of its gap to the answer's best (not near-identical) result a result's score loses


@dataclass(frozen=True)
class Calibration:
    """Blended scores that map to 60, 80 and 95 %, measured for ``model`` on ``photos`` photos (0: not measured), and
    the floor line above which an answer's best result reads at least "similar" (None: never raised)."""

    close: float
    very: float
    copy: float
    model: int = 0
    photos: int = 0
    floor: float | None = None

    @property
    def anchors(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """(scores, percents) of the piecewise-linear map: 0 % at the lowest score, 30 % half a point below the
        close line, then 60, 80, 95 and 100 % at the highest score."""
        return ((-1.5, self.close - 0.5, self.close, self.very, self.copy, 1.5), (0.0, 30.0, 60.0, 80.0, 95.0, 100.0))

    def percent(self, blended: np.ndarray | float) -> np.ndarray:
        """Blended scores in percent: piecewise linear and strictly increasing, so the order is kept."""
        scores, percents = self.anchors
        return np.interp(np.asarray(blended, dtype=np.float64), scores, percents)

    def answer_percent(self, blended: np.ndarray, raise_best: bool = True) -> np.ndarray:
        """The percentages of one answer's results (``blended`` in the answer's order): ``percent`` of each score
        less ``RELATIVE`` times its gap to the best result below the near-identical line (none: the scores alone),
        all but the near-identical ones raised by what that best result lacks to the close line when it is above the
        floor line (``raise_best``: a library photo's answer, not a stranger's). For a fixed
        best result the adjusted score increases with the score, so the order is kept."""
        b = np.asarray(blended, dtype=np.float64)
        below = b[b < self.copy]
        if not len(below):
            return self.percent(b)
        best = float(below.max())
        lift = max(0.0, self.close - best) if raise_best and self.floor is not None and best >= self.floor else 0.0
        # near-identical results keep their scores: a raised result ends at most on the close line, below them
        return self.percent(np.where(b >= self.copy, b, b - RELATIVE * np.maximum(0.0, best - b) + lift))

    def copy_score(self, texture: float) -> float:
        """The score a pixel-confirmed copy is raised to (its texture correlation in [0, 1]): 95-100 %."""
        return self.copy + (1.5 - self.copy) * float(np.clip(texture, 0.0, 1.0))

    def to_json(self) -> str:
        return json.dumps({"close": self.close, "very": self.very, "copy": self.copy, "model": self.model,
                           "photos": self.photos, "floor": self.floor})

    @classmethod
    def from_json(cls, text: str | None) -> Calibration | None:
        """The stored calibration, or None when there is none or it cannot be read, or was stored before the floor
        line (it is measured again)."""
        try:
            d = json.loads(text or "")
            floor = None if d["floor"] is None else float(d["floor"])
            cal = cls(float(d["close"]), float(d["very"]), float(d["copy"]), int(d["model"]), int(d["photos"]), floor)
        except (ValueError, TypeError, KeyError):
            return None
        ok = -1.0 < cal.close < cal.very < cal.copy < 1.5 and all(np.isfinite([cal.close, cal.very, cal.copy]))
        ok = ok and (floor is None or (np.isfinite(floor) and -1.5 < floor <= cal.close))
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
    floor = min(float(np.quantile(s, FLOOR_QUANTILE)), close)
    return Calibration(round(close, 4), round(very, 4), round(copy, 4), model, photos, round(floor, 4))
