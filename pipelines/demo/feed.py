"""`forecaster demo-feed`: append new points to the demo's sensor series, as a live producer
would, so `forecaster daemon` on the demo's config has something to keep up with."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from forecaster.config.loading import load_config
from forecaster.db.repo.observations import read_observations, upsert_observations
from forecaster.db.repo.series import ensure_series_ids, list_series
from forecaster.db.session import check_connection, make_engine, make_session_factory, transaction
from forecaster.db.time_range import TimeRange
from forecaster.errors import ConfigError
from pipelines.demo.samples import SENSOR_FREQUENCY, sensor_noise_and_spike
from pipelines.demo.tour import CONFIG_FILE, DB_FILE

DAYS_REMEMBERED = 3  # a new value follows the median of the same hour on the last three days
HOURS_KEPT = 24 * 7


@dataclass(frozen=True)
class Tick:
    """The points one tick appended: the next hourly point of each sensor."""

    points: dict[str, tuple[pd.Timestamp, float]]  # sensor -> (time, value)
    spiked: str | None  # the sensor that got a spike in this tick, if any


@dataclass
class FeedState:
    """Each sensor's recent values (hourly, newest last) and the ticks done."""

    recent: dict[str, pd.Series]
    ticks: int = 0


def next_tick(state: FeedState, rng: np.random.Generator, spike_every: int) -> Tick:
    """The next point of every sensor: the median of the same hour on the previous days plus
    noise (the daily cycle goes on and a spike never echoes), and every `spike_every` ticks a
    spike in one sensor, the sensors in turn. Updates `state`."""
    names = sorted(state.recent)
    state.ticks += 1
    spiked = None
    if spike_every > 0 and state.ticks % spike_every == 0:
        spiked = names[(state.ticks // spike_every - 1) % len(names)]
    step = pd.tseries.frequencies.to_offset(SENSOR_FREQUENCY)
    points: dict[str, tuple[pd.Timestamp, float]] = {}
    for name in names:
        recent = state.recent[name]
        at = recent.index[-1] + step
        # Newest first: positions 23, 47, 71 are 24, 48 and 72 hours before `at`.
        same_hour = recent.to_numpy()[::-1][23 : 24 * DAYS_REMEMBERED : 24]
        noise, spike = sensor_noise_and_spike(name)
        value = round(float(np.median(same_hour) + rng.normal(0.0, noise)), 4)
        if name == spiked:
            value = round(value + spike, 4)
        points[name] = (at, value)
        added = pd.Series([value], index=pd.DatetimeIndex([at]))
        state.recent[name] = pd.concat([recent, added]).iloc[-HOURS_KEPT:]
    return Tick(points=points, spiked=spiked)


def run_feed(
    directory: Path,
    *,
    every: pd.Timedelta,
    count: int | None,
    spike_every: int,
    stop: threading.Event,
    on_tick: Callable[[Tick], None] | None = None,
    seed: int = 7,
) -> int:
    """Append a point to each demo sensor every `every` until `count` ticks are done or `stop`
    is set; returns the ticks done. The points go to the demo's own database whatever the
    environment says, as the demo's do."""
    config_path = directory / CONFIG_FILE
    if not config_path.is_file() or not (directory / DB_FILE).is_file():
        raise ConfigError(
            f"{directory} holds no demo ({CONFIG_FILE} and {DB_FILE}): run "
            f"`forecaster demo --dir {directory}` first"
        )
    settings = load_config(config_path, env={})
    engine = make_engine(settings.database)
    try:
        check_connection(engine)
        sessions = make_session_factory(engine)
        state = _initial_state(sessions)
        rng = np.random.default_rng(seed)
        done = 0
        while (count is None or done < count) and not stop.is_set():
            tick = next_tick(state, rng, spike_every)
            with transaction(sessions) as session:  # every sensor's point or none
                ids = ensure_series_ids(session=session, names=sorted(tick.points))
                for name, (at, value) in tick.points.items():
                    upsert_observations(
                        session=session,
                        series_id=ids[name],
                        points=pd.Series([value], index=pd.DatetimeIndex([at])),
                    )
            done += 1
            if on_tick is not None:
                on_tick(tick)
            if count is None or done < count:
                stop.wait(every.total_seconds())
        return done
    finally:
        engine.dispose()


def _initial_state(sessions: sessionmaker[Session]) -> FeedState:
    """The last week of each demo sensor, read from the database."""
    recent: dict[str, pd.Series] = {}
    with transaction(sessions) as session:
        for summary in list_series(session=session):
            if summary.kind != "sensor" or summary.last_ts is None:
                continue
            try:
                sensor_noise_and_spike(summary.name)
            except KeyError:
                continue  # a series someone added to the demo database
            start = pd.Timestamp(summary.last_ts) - pd.Timedelta(hours=HOURS_KEPT)
            points = read_observations(
                session=session,
                series_id=summary.id,
                time_range=TimeRange(start=start.to_pydatetime()),
            )
            if len(points) >= 24 * DAYS_REMEMBERED:
                recent[summary.name] = points
    if not recent:
        raise ConfigError("the demo database has no sensor series with three days of points")
    return FeedState(recent=recent)
