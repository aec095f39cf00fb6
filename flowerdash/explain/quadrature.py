"""Adaptive trapezoid rule for path integrals whose exact value over any piece is known.

Integrated Gradients integrates the gradient ``v(a) = ∇F(γ(a))`` along a path γ, and each
evaluation also returns the model's score ``F(γ(a))`` and, through the path's direction d, the
slope ``s(a) = d · v(a) = dF(γ(a))/da``. So for every cell [a, b] between two evaluated points
the exact integral of the slope is known, ``F(b) - F(a)``, and the trapezoid rule's error on it,

    error(a, b) = (b - a) (s(a) + s(b)) / 2 - (F(b) - F(a)),

costs nothing to compute. :class:`AdaptiveTrapezoid` starts from a grid crowded towards the
path's start (``u**warp`` for u evenly spaced, where a ReLU network's units switch on fastest),
then spends a quarter of its evaluations (at most 16) bisecting the cells with the largest
error, 8 at a time (classic adaptive quadrature, with an exact error indicator instead of an
estimated one). The vector integral is the ordinary trapezoid rule on the final grid.

Why only a quarter: the slope error steers the bisections, but every pixel's own integrand
needs the first grid to be fine; a larger share shrinks the gap while moving the attributions
away from a fine reference (``benchmarks/ig_adaptive_variants.py`` compares the splits).

Memory is bounded: only cells that can still be split keep their two endpoint vectors (at most
``max_refinements`` cells, since a cell ranked lower than that among the first grid can never
be picked); every other cell is folded into the running sum as soon as it is known.

Pure numpy: the caller evaluates the points this class asks for, in the order it asks.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

import numpy as np

__all__ = ["AdaptiveTrapezoid", "refinement_count"]

ROUND_SIZE = 8  # cells bisected per round: few enough to adapt, enough to batch on the model
REFINE_SHARE = 0.25  # share of the evaluations spent on bisection
MAX_REFINEMENTS = 16  # evaluations spent on bisection at most (bounds the memory kept)
WARP = 2.0  # first grid a = u**2: a quarter of its points in the first 1/16 of the path


def refinement_count(
    evaluations: int, max_refinements: int = MAX_REFINEMENTS, share: float = REFINE_SHARE
) -> int:
    """How many of ``evaluations`` go to bisection (``share`` of them, at most ``max_refinements``)."""
    return min(int(evaluations * share), max_refinements, max(evaluations - 2, 0))


@dataclass(order=True)
class _Cell:
    priority: float  # -|error|, so heapq pops the worst cell first
    a: float = field(compare=False)
    b: float = field(compare=False)
    va: np.ndarray = field(compare=False, repr=False)
    vb: np.ndarray = field(compare=False, repr=False)
    sa: float = field(compare=False)
    sb: float = field(compare=False)
    fa: float = field(compare=False)
    fb: float = field(compare=False)

    @property
    def error(self) -> float:
        return (self.b - self.a) * (self.sa + self.sb) / 2.0 - (self.fb - self.fa)

    def contribution(self) -> np.ndarray:
        return (self.b - self.a) / 2.0 * (self.va + self.vb)


def _cell(a, b, va, vb, sa, sb, fa, fb) -> _Cell:
    c = _Cell(0.0, a, b, va, vb, sa, sb, fa, fb)
    c.priority = -abs(c.error)
    return c


class AdaptiveTrapezoid:
    """∫_0^1 v(a) da with ``evaluations`` points, bisecting the cells of largest slope error.

    Use: ``while (alphas := rule.request()) is not None: rule.add(vectors, slopes, values)``
    with, for each requested alpha, the vector v(a) (any shape), the slope s(a) and the value
    F(a); then ``rule.integral()``.
    """

    def __init__(
        self,
        evaluations: int,
        round_size: int = ROUND_SIZE,
        max_refinements: int = MAX_REFINEMENTS,
        warp: float = WARP,
        share: float = REFINE_SHARE,
    ) -> None:
        if evaluations < 2:
            raise ValueError("the adaptive trapezoid rule needs at least 2 evaluations")
        if round_size < 1 or max_refinements < 0 or warp <= 0 or not 0 <= share < 1:
            raise ValueError(
                "round_size >= 1, max_refinements >= 0, warp > 0 and 0 <= share < 1 are required"
            )
        self.evaluations = int(evaluations)
        self.round_size = int(round_size)
        self.refinements = refinement_count(self.evaluations, max_refinements, share)
        first = self.evaluations - self.refinements
        self._grid = np.linspace(0.0, 1.0, first) ** warp
        self._grid_sent = False
        self._budget = self.refinements  # bisections still to make
        self._open: list[_Cell] = []  # heap of the cells that may still be split
        self._split: list[_Cell] = []  # cells whose midpoints were requested
        self._last: tuple[float, np.ndarray, float, float] | None = None
        self._total: np.ndarray | None = None
        self.alphas: list[float] = []  # every evaluated point, in request order

    @property
    def kept(self) -> int:
        """How many cells hold their endpoint vectors now (bounded by ``refinements``)."""
        return len(self._open) + len(self._split)

    def request(self) -> np.ndarray | None:
        """The alphas to evaluate next (ascending), or None when the budget is spent."""
        if not self._grid_sent:
            self._grid_sent = True
            return self._grid.copy()
        if self._budget == 0 or not self._open:
            return None
        k = min(self.round_size, self._budget, len(self._open))
        self._split = sorted((heapq.heappop(self._open) for _ in range(k)), key=lambda c: c.a)
        self._budget -= k
        self._trim()
        return np.array([(c.a + c.b) / 2.0 for c in self._split])

    def add(self, vectors: np.ndarray, slopes: np.ndarray, values: np.ndarray) -> None:
        """Results for the alphas of the last request (in one call or several, in order)."""
        vectors = np.asarray(vectors, dtype=np.float64)
        slopes = np.asarray(slopes, dtype=np.float64).reshape(-1)
        values = np.asarray(values, dtype=np.float64).reshape(-1)
        if not (len(vectors) == len(slopes) == len(values)):
            raise ValueError("vectors, slopes and values must have one entry per alpha")
        if self._split:
            self._add_midpoints(vectors, slopes, values)
        else:
            self._add_grid(vectors, slopes, values)

    def _add_grid(self, vectors: np.ndarray, slopes: np.ndarray, values: np.ndarray) -> None:
        start = len(self.alphas)
        if start + len(vectors) > len(self._grid):
            raise ValueError("more results than requested")
        for i, (v, s, f) in enumerate(zip(vectors, slopes, values, strict=True)):
            a = float(self._grid[start + i])
            self.alphas.append(a)
            if self._last is not None:
                la, lv, ls, lf = self._last
                self._keep(_cell(la, a, lv, v, ls, s, lf, f))
            self._last = (a, v, float(s), float(f))

    def _add_midpoints(self, vectors: np.ndarray, slopes: np.ndarray, values: np.ndarray) -> None:
        if len(vectors) > len(self._split):
            raise ValueError("more results than requested")
        for cell, v, s, f in zip(self._split, vectors, slopes, values, strict=False):
            m = (cell.a + cell.b) / 2.0
            self.alphas.append(m)
            self._keep(_cell(cell.a, m, cell.va, v, cell.sa, s, cell.fa, f))
            self._keep(_cell(m, cell.b, v, cell.vb, s, cell.sb, f, cell.fb))
        self._split = self._split[len(vectors) :]

    def _keep(self, cell: _Cell) -> None:
        heapq.heappush(self._open, cell)
        self._trim()

    def _trim(self) -> None:
        """Fold the cells that can no longer be split into the running sum."""
        while len(self._open) > self._budget:
            smallest = max(range(len(self._open)), key=lambda i: self._open[i].priority)
            self._fold(self._open.pop(smallest))
        heapq.heapify(self._open)

    def _fold(self, cell: _Cell) -> None:
        part = cell.contribution()
        self._total = part if self._total is None else self._total + part

    def integral(self) -> np.ndarray:
        """The trapezoid rule on every evaluated point: ∫_0^1 v(a) da, float64."""
        if self._split or len(self.alphas) < len(self._grid):
            raise ValueError("not every requested point has been added")
        for cell in self._open:
            self._fold(cell)
        self._open = []
        self._budget = 0
        if self._total is None:
            raise ValueError("no cell was formed")
        return self._total
