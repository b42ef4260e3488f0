"""Decide a processed span again from its stored one-step predictions, as the steps did; pure.

A backfill decided each step's points with the model of the step's cut-off (its validation
RMSE is the reference scale of the extreme rule and the static threshold) and, before the
first model, by the flat-start rule alone. Decisions depend only on the points before them
(within the detector's context), so deciding each run of points scored by one model at once
gives the rows the steps gave, with the current detection settings and no network.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace

import numpy as np

from forecaster.detection.decide import Decisions, Detector
from forecaster.detection.flat_start import flat_departures
from forecaster.model.sequences import MIN_FLAT_RUN
from forecaster.series.regular import RegularSeries

NO_MODEL = -1  # the model id of positions no model scored


@dataclass(frozen=True)
class Replay:
    """A span to decide again: regular points up to the watermark, their stored predictions
    and the id of the model that made each (NO_MODEL where none did)."""

    span: RegularSeries
    predicted: np.ndarray
    model_ids: np.ndarray
    first_new: int  # the first position decided again
    initial: int | None  # grid step of the first cut-off (None: no model yet)
    from_first_point: bool  # the span starts at the series' first point
    season: int | None = None  # the series' season in grid steps


@dataclass(frozen=True)
class Decided:
    """The decisions of one run of positions and the model that scored them (None: none)."""

    model_id: int | None
    decisions: Decisions


def replay_decisions(
    replay: Replay, detector: Detector, scales: Mapping[int, float | None]
) -> list[Decided]:
    """Decisions of positions first_new.. of a replay, in runs of one model each; `scales`
    holds each model's reference scale (its validation RMSE, None when unusable)."""
    span, first_new = replay.span, replay.first_new
    warm_up = (
        len(span)
        if replay.initial is None
        else int(np.searchsorted(span.steps, replay.initial, side="right"))
    )
    decided = []
    if first_new < warm_up and replay.from_first_point:
        positions = np.arange(first_new, min(warm_up, len(span)))
        flat = flat_departures(span.values, span.observed, positions, min_run=MIN_FLAT_RUN)
        if flat is not None:
            decided.append(Decided(None, flat))
    owners = _owners(replay.model_ids)
    for start, stop in _runs(owners, max(first_new, warm_up)):
        model_id = int(owners[start])
        if model_id == NO_MODEL:
            continue  # no prediction in the run: nothing is anomalous there
        lo = max(0, start - detector.context_points(replay.season))
        decisions = detector.decide(
            span.values[lo:stop],
            span.observed[lo:stop],
            replay.predicted[lo:stop],
            span.steps[lo:stop],
            start - lo,
            reference_scale=scales.get(model_id),
            season=replay.season,
        )
        decided.append(Decided(model_id, _shifted(decisions, lo)))
    return decided


def _owners(model_ids: np.ndarray) -> np.ndarray:
    """The model each position belongs to: its prediction's, else the one of the latest
    prediction before it (the first one's before any): a point without a prediction has no
    residual, so only which run it joins matters."""
    has = model_ids != NO_MODEL
    if not has.any():
        return model_ids
    index = np.where(has, np.arange(model_ids.size), 0)
    np.maximum.accumulate(index, out=index)
    owners = model_ids[index]
    owners[: int(np.argmax(has))] = model_ids[int(np.argmax(has))]
    return owners


def _runs(owners: np.ndarray, first: int) -> list[tuple[int, int]]:
    """(start, stop) of the runs of equal owners among positions first..."""
    if first >= owners.size:
        return []
    tail = owners[first:]
    breaks = np.flatnonzero(tail[1:] != tail[:-1]) + 1
    edges = [0, *breaks.tolist(), tail.size]
    return [(first + a, first + b) for a, b in itertools.pairwise(edges)]


def _shifted(decisions: Decisions, offset: int) -> Decisions:
    """Decisions of a slice starting at `offset`, with positions into the whole span."""
    return replace(decisions, positions=decisions.positions + offset)


def joined(decided: Sequence[Decided]) -> Decisions | None:
    """All runs' decisions as one (positions ascending); None when there are none."""
    if not decided:
        return None
    parts = [d.decisions for d in decided]
    columns = {
        f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Decisions)
    }
    return Decisions(**columns)
