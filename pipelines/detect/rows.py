"""A scored step as the rows it writes: one-step forecasts, anomalies, events, forecasts ahead,
the watermark and the series' grid; pure (no session)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from forecaster.config.detection import DetectionSettings
from forecaster.db.repo.forecasts import ForecastRow, forecast_payload
from forecaster.db.repo.upsert import Columns, columns_of
from forecaster.db.repo.watermarks import watermark_row
from forecaster.detection.decide import Decisions
from forecaster.detection.events import EventDraft, Grouping, OpenEvent, group_events
from forecaster.detection.severity import severity_of
from forecaster.model.predict import Forecast
from forecaster.series.grid import Grid, grid_steps
from forecaster.series.regular import RegularSeries
from pipelines.detect.step import Scored, Skipped

Row = dict[str, Any]


@dataclass(frozen=True)
class StepRows:
    """The rows of one step of one series, written in one transaction with its watermark."""

    series_id: int
    forecasts: list[Columns] = field(default_factory=list)  # blocks of `forecasts` columns
    anomalies: list[Row] = field(default_factory=list)
    events: list[Row] = field(default_factory=list)
    new_events: int = 0  # events among `events` that are new (the first may extend the last)
    watermark: Row | None = None  # None: the watermark stays (nothing was processed)
    grid: Grid | None = None  # to store on the series row, where none is stored


def step_rows(
    scored: Scored, *, pipeline: str, run_id: int | None, grouping: Grouping, now: datetime
) -> StepRows:
    """Every row a scored step writes; `now` stamps them."""
    step, model = scored.step, scored.model
    series_id = step.state.series_id
    forecasts: list[Columns] = []
    anomalies: list[Row] = []
    events: list[Row] = []
    new_events = 0
    decisions = scored.decisions
    if model is not None and decisions is not None:
        made_by = {
            "pipeline": pipeline,
            "series_id": series_id,
            "model_version_id": model.version_id,
        }
        forecasts = [one_step_columns(step.span, decisions, model.model.band[0], ids=made_by)]
    if decisions is not None:  # a warm-up step's decisions: a flat start that moved
        ids: Row = {"pipeline": pipeline, "series_id": series_id}
        version_id = None if model is None else model.version_id
        anomalies = anomaly_payload(
            step.span, decisions, ids=ids, model_version_id=version_id, run_id=run_id, now=now
        )
        events, new_events = event_payload(
            step.span, decisions, step.state.last_event, grouping, ids=ids, run_id=run_id, now=now
        )
    if scored.ahead is not None and scored.ahead_model is not None:
        ahead = forecast_payload(
            pipeline=pipeline,
            series_id=series_id,
            model_version_id=scored.ahead_model.version_id,
            rows=forecast_rows(scored.ahead),
        )
        forecasts += [columns_of(ahead)] if ahead else []
    mark = watermark_row(pipeline, series_id, step.last_ts.to_pydatetime(), now=now)
    return StepRows(series_id, forecasts, anomalies, events, new_events, mark, step.new_grid)


def grouping_of(settings: DetectionSettings) -> Grouping:
    """How a pipeline's anomalous points are grouped into events."""
    return Grouping(merge_gap=settings.merge_gap, refractory=settings.refractory)


def skipped_rows(skipped: Skipped) -> StepRows:
    """A series waiting for history writes only the grid it was first read with."""
    return StepRows(skipped.state.series_id, grid=skipped.new_grid)


def one_step_columns(
    span: RegularSeries, decisions: Decisions, band: np.ndarray, *, ids: Row
) -> Columns:
    """The one-step forecasts (step 1, issued at the point before) of every new scored point,
    as `forecasts` columns (`ids`: pipeline, series_id, model_version_id): whole arrays, as
    the bulk write takes them (a row object per point dominated a backfill)."""
    positions = decisions.positions
    ok = np.isfinite(decisions.predicted) & span.observed[positions]
    low, high = (float(b) for b in band)
    scored = positions[ok]
    values = decisions.predicted[ok].astype(float)
    return {
        **ids,
        "issued_at": span.index[scored - 1],
        "ts": span.index[scored],
        "step": 1,
        "predicted": values,
        "observed": span.values[scored].astype(float),
        "lower": values + low,
        "upper": values + high,
    }


def anomaly_payload(
    span: RegularSeries,
    decisions: Decisions,
    *,
    ids: Row,
    model_version_id: int | None,
    run_id: int | None,
    now: datetime,
) -> list[Row]:
    """The `anomalies` rows of a series' decisions (`ids`: its pipeline and series_id)."""
    written = {"model_version_id": model_version_id, "run_id": run_id, "detected_at": now}
    return [{**ids, **row, **written} for row in anomaly_rows(span, decisions)]


def event_payload(
    span: RegularSeries,
    decisions: Decisions,
    last: OpenEvent | None,
    grouping: Grouping,
    *,
    ids: Row,
    run_id: int | None,
    now: datetime,
) -> tuple[list[Row], int]:
    """The `anomaly_events` rows of a series' decisions, and how many of them are new (the
    first may extend the stored `last` event)."""
    drafts, extended = events_of(span, decisions, last, grouping)
    stamps = {"run_id": run_id, "created_at": now, "updated_at": now}
    return [{**ids, **event_columns(d), **stamps} for d in drafts], len(drafts) - int(extended)


def anomaly_rows(span: RegularSeries, decisions: Decisions) -> list[Row]:
    """The `anomalies` columns of every anomalous point (what, expected, how unusual)."""
    rows = []
    for k in np.flatnonzero(decisions.anomalous):
        position, score = decisions.positions[k], float(decisions.score[k])
        rows.append(
            {
                "ts": span.index[position].to_pydatetime(),
                "observed": float(span.values[position]),
                "predicted": float(decisions.predicted[k]),
                "residual": float(decisions.residual[k]),
                "threshold": float(decisions.threshold[k]),
                "score": score,
                "severity": severity_of(score),
                "direction": str(decisions.direction[k]),
                "rule": str(decisions.rule[k]),
                "signals": str(decisions.signals[k]),
            }
        )
    return rows


def events_of(
    span: RegularSeries, decisions: Decisions, last: OpenEvent | None, grouping: Grouping
) -> tuple[list[EventDraft], bool]:
    """The events of a step's anomalous points, the first extending the series' last stored
    event when close enough to it; and whether it did."""
    flagged = np.flatnonzero(decisions.anomalous)
    if not len(flagged):
        return [], False
    open_event = None if last is None else _open_event(span, last)
    positions = decisions.positions[flagged]
    drafts = group_events(
        span.index[positions],
        span.steps[positions],
        decisions.score[flagged],
        decisions.direction[flagged],
        grouping=grouping,
        open_event=open_event,
    )
    extended = open_event is not None and drafts[0].start_ts == open_event.start_ts
    return drafts, extended


def _open_event(span: RegularSeries, last: OpenEvent) -> OpenEvent:
    """The stored event with the grid steps of its start and end on the span's grid."""
    times = pd.DatetimeIndex([last.start_ts, last.end_ts])
    if times.tz is None:
        times = times.tz_localize("UTC")
    steps, _ = grid_steps(times, span.grid, "series")
    return replace(last, start_step=int(steps[0]), end_step=int(steps[1]))


def event_columns(draft: EventDraft) -> Row:
    """The `anomaly_events` columns an event draft sets."""
    return {
        "start_ts": draft.start_ts.to_pydatetime(),
        "end_ts": draft.end_ts.to_pydatetime(),
        "peak_ts": draft.peak_ts.to_pydatetime(),
        "peak_score": draft.peak_score,
        "n_points": draft.n_points,
        "direction": draft.direction,
        "severity": draft.severity,
    }


def forecast_rows(forecast: Forecast) -> list[ForecastRow]:
    """The `forecasts` rows of a forecast: steps 1..horizon after its issue time."""
    return [
        ForecastRow(
            issued_at=forecast.issued_at.to_pydatetime(),
            ts=ts.to_pydatetime(),
            step=step,
            predicted=float(p),
            lower=float(lo),
            upper=float(hi),
        )
        for step, (ts, p, lo, hi) in enumerate(
            zip(forecast.index, forecast.predicted, forecast.lower, forecast.upper, strict=True),
            start=1,
        )
    ]
