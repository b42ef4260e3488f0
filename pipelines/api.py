"""The pandas API for notebooks: `detect(frame)` runs the product's backfill on scratch tables."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Column, Table, select
from sqlalchemy.orm import Session

from forecaster.config.loading import load_config
from forecaster.config.settings import Settings
from forecaster.config.validators import series_name_problem
from forecaster.db import migrate
from forecaster.db.repo.observations import upsert_observations
from forecaster.db.repo.series import create_series
from forecaster.db.session import transaction
from forecaster.db.tables import Anomaly, AnomalyEvent, Forecast, Series
from forecaster.errors import ConfigError, IngestError
from forecaster.messages import quoted
from forecaster.series.frequency import infer_frequency
from forecaster.vocabulary import MAX_EXAMPLES
from pipelines.context import AppContext, open_context
from pipelines.jobs.backfill import RunResult, run_pipeline
from pipelines.scratch import clear_scratch, scratch_dir, scratch_settings

DATABASE = "detect.db"  # in the scratch directory, with the model store MODELS
MODELS = "detect-models"
DEFAULT_SERIES_NAME = "value"  # a Series without a name
# Columns of the result tables that are bookkeeping, not findings (besides ids and keys).
BOOKKEEPING = frozenset({"pipeline", "detected_at", "created_at", "updated_at"})
PREDICTION_COLUMNS = ("ts", "predicted", "observed", "lower", "upper")


class DataError(IngestError):
    """The data given to `detect` cannot be scored as it is."""


@dataclass(frozen=True)
class Detection:
    """What `detect` found, as the product's tables would hold it (timestamps aware UTC).

    - `anomalies`: one row per anomalous point: `series`, `ts` and every data column of the
      `anomalies` table (observed, predicted, residual, threshold, score, severity, ...).
    - `events`: one row per event: `series`, `start_ts`, `end_ts`, `peak_ts`, `peak_score`,
      `n_points`, `direction`, `severity`, ... (the `anomaly_events` table's data columns).
    - `predictions`: the stored one-step forecasts (step 1, issued the step before): `series`,
      `ts`, `predicted`, `observed`, `lower`, `upper`.
    - `failed`: series name -> why it could not be scored (the others were scored).
    - `notes`: series name -> why a series is fine but (partly) unscored, e.g. too little
      history for the first model, or constant so far.
    """

    anomalies: pd.DataFrame
    events: pd.DataFrame
    predictions: pd.DataFrame
    failed: dict[str, str] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)


def detect(
    data: pd.DataFrame | pd.Series,
    config: Settings | str | Path | None = None,
    *,
    pipeline: str | None = None,
    workdir: Path | None = None,
) -> Detection:
    """Score `data` as `forecaster backfill` would have, and return the rows it writes.

    `data` is a Series (one series, named by its `.name`, else "value") or a DataFrame whose
    numeric columns are each one series (named after the column), on a DatetimeIndex in any
    order. Naive timestamps are taken as UTC; aware ones are converted to UTC. NaN values are
    missing points.

    `config` is a Settings object, the path of a config YAML, or None for the built-in defaults
    (no file is read, not even ./config.yaml). `pipeline` names the pipeline of the config
    whose settings score the data (the first one when None). The config's database and the
    pipeline's `source:` are not used: the points go into a scratch SQLite database with a
    scratch model store, in `workdir` when given (kept: `detect.db` and `detect-models/`,
    replaced by the next run there), else in a temporary directory (removed afterwards).

    Bad input raises DataError (a ForecasterError) naming the problem; a series that cannot
    be scored is listed in `failed` and the others are still scored.
    """
    series = _series_of(data)
    settings = _settings_of(config)
    chosen = settings.pipeline(pipeline).name
    empty = {n: "no values: every value is missing (NaN)" for n, p in series.items() if p.empty}
    scored = {n: p for n, p in series.items() if not p.empty}
    with scratch_dir(None if workdir is None else Path(workdir), prefix="forecaster-api-") as root:
        clear_scratch(root, database=DATABASE, models=MODELS)  # a kept workdir's last run
        context = open_context(
            scratch_settings(settings, chosen, root, database=DATABASE, models=MODELS),
            require_schema=False,
        )
        try:
            migrate.upgrade(context.engine)
            run = _run(context, chosen, scored)
            with context.sessions() as session:
                tables = _results(session, chosen)
        finally:
            context.close()
    failed = {**empty, **{r.series: r.error for r in run.reports if r.error is not None}}
    notes = {r.series: "; ".join(r.notes) for r in run.reports if r.notes}
    return Detection(
        anomalies=tables[0],
        events=tables[1],
        predictions=tables[2],
        failed=dict(sorted(failed.items())),
        notes=dict(sorted(notes.items())),
    )


def _settings_of(config: Settings | str | Path | None) -> Settings:
    """The settings `config` stands for: itself, the file it names, or the defaults."""
    if config is None:
        return Settings()
    if isinstance(config, Settings):
        return config
    if isinstance(config, str | Path):
        return load_config(Path(config))
    raise ConfigError(
        "config must be a Settings object, the path of a config YAML or None, "
        f"not {type(config).__name__}"
    )


def _series_of(data: pd.DataFrame | pd.Series) -> dict[str, pd.Series]:
    """Each series of `data` as sorted, finite float points on a unique UTC index (NaN values
    dropped: possibly none left); DataError naming the problem otherwise."""
    frame = _as_frame(data)
    if frame.shape[1] == 0:
        raise DataError("data has no columns: nothing to score")
    if len(frame) == 0:
        raise DataError("data is empty: it has no rows")
    index = _utc_index(frame)
    names = _series_names(list(frame.columns))
    _check_numeric(frame, names)
    frame = frame.set_axis(index, axis="index").sort_index(kind="stable")
    series = {}
    for position, name in enumerate(names):
        values = frame.iloc[:, position].to_numpy(dtype=float, na_value=np.nan)
        _check_finite(name, values, pd.DatetimeIndex(frame.index))
        points = pd.Series(values, index=pd.DatetimeIndex(frame.index, name="ts"), name=name)
        series[name] = points.dropna()
    return series


def _as_frame(data: object) -> pd.DataFrame:
    if isinstance(data, pd.Series):
        return data.to_frame(name=DEFAULT_SERIES_NAME if data.name is None else data.name)
    if isinstance(data, pd.DataFrame):
        return data
    raise DataError(
        f"data must be a pandas DataFrame or Series with a DatetimeIndex, not {type(data).__name__}"
    )


def _series_names(columns: list[Hashable]) -> list[str]:
    """The series names of the columns (their text), each valid and used once."""
    names = [str(c) for c in columns]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        listed = ", ".join(map(quoted, repeated[:MAX_EXAMPLES]))
        raise DataError(f"column name(s) used more than once: {listed}; each names one series")
    for name in names:
        if (problem := series_name_problem(name)) is not None:
            raise DataError(f"{problem}: rename the column (or the Series)")
    return names


def _check_numeric(frame: pd.DataFrame, names: list[str]) -> None:
    def numeric(column: pd.Series) -> bool:
        dtype = column.dtype
        return (
            pd.api.types.is_numeric_dtype(dtype)
            and not pd.api.types.is_bool_dtype(dtype)
            and not pd.api.types.is_complex_dtype(dtype)
        )

    others = [
        f"{quoted(name)} ({frame.iloc[:, i].dtype})"
        for i, name in enumerate(names)
        if not numeric(frame.iloc[:, i])
    ]
    if len(others) == len(names):
        raise DataError(f"data has no numeric columns to score (columns: {', '.join(others)})")
    if others:
        raise DataError(
            f"non-numeric column(s) {', '.join(others)}: every column is scored as a series; "
            "select the value columns (e.g. data[['a', 'b']]) or convert them with pd.to_numeric"
        )


def _utc_index(frame: pd.DataFrame) -> pd.DatetimeIndex:
    """The index as unique UTC times (naive times are UTC), cut to microseconds as stored."""
    index = frame.index
    if not isinstance(index, pd.DatetimeIndex):
        raise DataError(_index_hint(frame))
    if index.hasnans:
        raise DataError(
            f"the index has {np.count_nonzero(index.isna())} missing timestamp(s) (NaT): drop "
            "those rows first, e.g. data[data.index.notna()]"
        )
    index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    index = index.floor("us")
    repeated = index[index.duplicated()].unique().sort_values()
    if len(repeated):
        examples = ", ".join(ts.isoformat() for ts in repeated[:MAX_EXAMPLES])
        raise DataError(
            f"{len(repeated)} timestamp(s) appear more than once (in UTC), e.g. {examples}: "
            "keep one row each, e.g. data[~data.index.duplicated(keep='last')], or aggregate "
            "them with data.groupby(level=0).mean()"
        )
    return index


def _index_hint(frame: pd.DataFrame) -> str:
    """Why the index is not usable, and how to make it a DatetimeIndex."""
    kind = type(frame.index).__name__
    times = [
        str(c)
        for c in frame.columns
        if pd.api.types.is_datetime64_any_dtype(frame[c].dtype)
        or str(c).lower() in ("timestamp", "time", "ts", "datetime", "date")
    ]
    column = times[0] if times else "timestamp"
    return (
        f"the index must hold the timestamps (a DatetimeIndex), not a {kind} of "
        f"{frame.index.dtype}: set the time column as index and parse it, e.g. "
        f"data.set_index({column!r}) and data.index = pd.to_datetime(data.index)"
    )


def _check_finite(name: str, values: np.ndarray, index: pd.DatetimeIndex) -> None:
    infinite = np.isinf(values)
    if infinite.any():
        examples = ", ".join(ts.isoformat() for ts in index[infinite][:MAX_EXAMPLES])
        raise DataError(
            f"series {quoted(name)} has {int(infinite.sum())} infinite value(s), e.g. at "
            f"{examples}: replace them with NaN (a missing point) first"
        )


def _run(context: AppContext, pipeline: str, series: dict[str, pd.Series]) -> RunResult:
    """Write the points into the observations table (one transaction, as ingest does: the
    frequency inferred from the points), then backfill every series with them."""
    with transaction(context.sessions) as session:
        for name, points in series.items():
            row = create_series(
                session=session,
                name=name,
                kind="sensor",
                frequency=infer_frequency(pd.DatetimeIndex(points.index)),
            )
            upsert_observations(session=session, series_id=row.id, points=points)
    if not series:
        return RunResult(run_id=0, pipeline=pipeline, reports=[])
    return run_pipeline(context, pipeline, kind="api", names=list(series))


def _results(session: Session, pipeline: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The anomalies, events and one-step predictions the run wrote."""
    anomalies = Anomaly.__table__
    events = AnomalyEvent.__table__
    forecasts = Forecast.__table__
    assert isinstance(anomalies, Table)
    assert isinstance(events, Table)
    assert isinstance(forecasts, Table)
    one_step = [forecasts.c[name] for name in PREDICTION_COLUMNS]
    return (
        _frame(session, anomalies, pipeline, _data_columns(anomalies), "ts"),
        _frame(session, events, pipeline, _data_columns(events), "start_ts"),
        _frame(session, forecasts, pipeline, one_step, "ts", forecasts.c.step == 1),
    )


def _data_columns(table: Table) -> list[Column[Any]]:
    """The columns that hold findings: no ids, no keys, no bookkeeping (new columns come too)."""
    return [
        c
        for c in table.columns
        if not c.primary_key and not c.foreign_keys and c.name not in BOOKKEEPING
    ]


def _frame(
    session: Session,
    table: Table,
    pipeline: str,
    columns: list[Column[Any]],
    order: str,
    *where: Any,
) -> pd.DataFrame:
    """The pipeline's rows of `table`: `series` (its name) then `columns`, sorted by series and
    `order`, typed by their SQL types (timestamps aware UTC)."""
    statement = (
        select(Series.name.label("series"), *columns)
        .join(Series, Series.id == table.c.series_id)
        .where(table.c.pipeline == pipeline, *where)
    )
    names = ["series", *(c.name for c in columns)]
    frame = pd.DataFrame([tuple(r) for r in session.execute(statement)], columns=names)
    for column in columns:
        frame[column.name] = _typed(frame[column.name], column)
    return frame.sort_values(["series", order], kind="stable").reset_index(drop=True)


def _typed(values: pd.Series, column: Column[Any]) -> pd.Series:
    """A result column as its SQL type: aware UTC times, floats, integers, else as read."""
    try:
        python_type = column.type.python_type
    except NotImplementedError:
        return values
    if python_type is float:
        return values.astype(float)
    if python_type is int:
        return values.astype("Int64" if column.nullable else "int64")
    if issubclass(python_type, datetime):
        return pd.Series(pd.to_datetime(values, utc=True), index=values.index, name=values.name)
    return values
