"""The demo's sample data: seeded synthetic sensor series with known, injected anomalies, and
the real VIX daily closes shipped in the package. Pure numpy/pandas: no I/O but reading the
packaged file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Literal

import numpy as np
import pandas as pd
from pandas.tseries.offsets import BaseOffset

DEMO_SEED = 20240601
SENSOR_FREQUENCY = "h"
SENSOR_START = pd.Timestamp("2025-01-01", tz="UTC")
VIX_FILE = "vix-daily.csv"  # pipelines/demo/data/vix-daily.csv: CBOE VIX daily, public domain

AnomalyKind = Literal["spike", "dip", "level shift", "drift", "stuck"]


@dataclass(frozen=True)
class Injected:
    """One labelled anomaly: what it is and the span of points it affects (inclusive)."""

    series: str
    kind: str
    start: pd.Timestamp
    end: pd.Timestamp


@dataclass(frozen=True)
class SampleSeries:
    """A demo series: its points and the anomalies known to be in it."""

    name: str
    kind: str  # the series kind stored in the database (sensor, stock, ...)
    unit: str
    frequency: str
    points: pd.Series
    labels: list[Injected]
    label_source: str  # "injected" or "known events"


@dataclass(frozen=True)
class DemoSize:
    """How much data the demo generates: points per sensor series and VIX days kept."""

    sensor_points: int
    warmup: int  # no anomaly before this position: the first model and threshold need history
    vix_days: int | None  # the newest days of VIX; None: all of it


# `warmup` leaves room for training.initial_points plus the error history (smoothing, score and
# threshold windows) the detector needs before it judges a point; see pipelines/demo.py.
FULL = DemoSize(sensor_points=2400, warmup=800, vix_days=None)
QUICK = DemoSize(sensor_points=1400, warmup=700, vix_days=1500)


@dataclass(frozen=True)
class _Shape:
    """How one synthetic sensor behaves and which anomalies it gets, in order."""

    name: str
    unit: str
    level: float
    daily: float  # amplitude of the daily cycle
    noise: float  # standard deviation of the measurement noise
    ar: float  # AR(1) coefficient of a slow wandering component (its innovations: noise/2)
    anomalies: tuple[AnomalyKind, ...]


_SHAPES = (
    _Shape("boiler_temp", "degC", 70.0, 4.0, 0.3, 0.95, ("spike", "stuck", "dip")),
    _Shape("line_pressure", "bar", 6.0, 0.15, 0.02, 0.9, ("level shift", "spike")),
    _Shape("pump_vibration", "mm/s", 2.0, 0.2, 0.05, 0.8, ("drift", "spike")),
    _Shape("cooling_flow", "m3/h", 120.0, 15.0, 1.5, 0.9, ("dip", "stuck", "level shift")),
)

# Sizes of the injected anomalies, in multiples of the series' noise or daily amplitude.
SPIKE_SIGMAS = 12.0
SHIFT_SIGMAS = 10.0
DRIFT_STEPS = 48  # a drift ramps over two days ...
DRIFT_SIGMAS = 20.0  # ... to this many noise deviations above the normal level, and stays
STUCK_STEPS = 30  # a stuck sensor repeats one reading for 30 hours
SHIFT_LABEL_STEPS = 12  # a level shift is the change: its label covers the first 12 hours
SLOT_STAGGER = 29  # steps between the first anomalies of consecutive series


def synthetic_series(size: DemoSize = FULL, seed: int = DEMO_SEED) -> list[SampleSeries]:
    """The synthetic sensors: daily cycle + slow wander + noise, anomalies injected at evenly
    spaced positions after `size.warmup`. Same size and seed, same values."""
    rng = np.random.default_rng(seed)
    n = size.sensor_points
    index = pd.date_range(SENSOR_START, periods=n, freq=SENSOR_FREQUENCY, name="timestamp")
    hours = np.arange(n)
    out = []
    for number, shape in enumerate(_SHAPES):
        wander = np.zeros(n)
        innovations = rng.normal(0.0, shape.noise / 2, n)
        for i in range(1, n):
            wander[i] = shape.ar * wander[i - 1] + innovations[i]
        phase = rng.uniform(0, 2 * np.pi)
        values = (
            shape.level
            + shape.daily * np.sin(2 * np.pi * hours / 24 + phase)
            + wander
            + rng.normal(0.0, shape.noise, n)
        )
        # Evenly spaced after the warm-up, staggered by series so they do not coincide.
        first_slot = size.warmup + SLOT_STAGGER * number
        slots = np.linspace(first_slot, n - 60, len(shape.anomalies)).astype(int)
        labels = []
        for kind, position in zip(shape.anomalies, slots, strict=True):
            first, last = _INJECT[kind](values, int(position), shape)
            labels.append(Injected(shape.name, kind, index[first], index[last]))
        sample = SampleSeries(
            name=shape.name,
            kind="sensor",
            unit=shape.unit,
            frequency=SENSOR_FREQUENCY,
            points=pd.Series(np.round(values, 4), index=index, name="value"),
            labels=labels,
            label_source="injected",
        )
        out.append(sample)
    return out


def _spike_size(shape: _Shape) -> float:
    return SPIKE_SIGMAS * shape.noise + shape.daily


def sensor_noise_and_spike(name: str) -> tuple[float, float]:
    """A synthetic sensor's measurement noise and the size of its injected spikes."""
    shape = next((s for s in _SHAPES if s.name == name), None)
    if shape is None:
        raise KeyError(f"{name!r} is not a demo sensor")
    return shape.noise, _spike_size(shape)


def _spike(values: np.ndarray, at: int, shape: _Shape) -> tuple[int, int]:
    values[at] += _spike_size(shape)
    return at, at


def _dip(values: np.ndarray, at: int, shape: _Shape) -> tuple[int, int]:
    values[at : at + 2] -= _spike_size(shape)
    return at, at + 1


def _level_shift(values: np.ndarray, at: int, shape: _Shape) -> tuple[int, int]:
    values[at:] += SHIFT_SIGMAS * shape.noise + shape.daily
    return at, min(at + SHIFT_LABEL_STEPS, len(values)) - 1


def _drift(values: np.ndarray, at: int, shape: _Shape) -> tuple[int, int]:
    ramp = np.minimum(np.arange(len(values) - at) / DRIFT_STEPS, 1.0)
    values[at:] += ramp * DRIFT_SIGMAS * shape.noise
    return at, min(at + DRIFT_STEPS, len(values)) - 1


def _stuck(values: np.ndarray, at: int, shape: _Shape) -> tuple[int, int]:
    last = min(at + STUCK_STEPS, len(values)) - 1
    values[at : last + 1] = values[at]
    return at, last


_INJECT: dict[str, Callable[[np.ndarray, int, _Shape], tuple[int, int]]] = {
    "spike": _spike,
    "dip": _dip,
    "level shift": _level_shift,
    "drift": _drift,
    "stuck": _stuck,
}

# Well-known volatility shocks (first trading day of the jump), to see whether the detector
# finds them in the real VIX series. A reference, not ground truth: VIX has other big moves.
VIX_SHOCKS = {
    "1997-10-27": "Asian crisis sell-off",
    "1998-08-31": "Russian default / LTCM",
    "2001-09-17": "markets reopen after 9/11",
    "2008-09-29": "Lehman aftermath, TARP vote fails",
    "2010-05-06": "flash crash",
    "2011-08-08": "US credit downgrade",
    "2015-08-24": "China devaluation sell-off",
    "2018-02-05": "Volmageddon",
    "2020-03-09": "COVID-19 crash",
    "2024-08-05": "yen carry-trade unwind",
    "2025-04-04": "tariff sell-off",
}


def vix_csv_text(size: DemoSize = FULL) -> str:
    """The packaged VIX file (DATE,OPEN,HIGH,LOW,CLOSE), cut to the newest `size.vix_days`."""
    text = resources.files("pipelines.demo").joinpath("data", VIX_FILE).read_text(encoding="utf-8")
    if size.vix_days is None:
        return text
    lines = text.splitlines()
    return "\n".join([lines[0], *lines[1:][-size.vix_days :]]) + "\n"


def vix_labels(first: pd.Timestamp, last: pd.Timestamp) -> list[Injected]:
    """The known VIX shocks between `first` and `last`, as one-day labels."""
    days = [pd.Timestamp(day, tz="UTC") for day in VIX_SHOCKS]
    return [
        Injected("vix", VIX_SHOCKS[day.strftime("%Y-%m-%d")], day, day)
        for day in days
        if first <= day <= last
    ]


def sample_series(size: DemoSize = FULL) -> list[SampleSeries]:
    """Every demo series: the synthetic sensors, then VIX (closing values)."""
    from io import StringIO

    frame = pd.read_csv(StringIO(vix_csv_text(size)), parse_dates=["DATE"])
    closes = pd.Series(
        frame["CLOSE"].to_numpy(dtype=float),
        index=pd.DatetimeIndex(frame["DATE"]).tz_localize("UTC"),
        name="value",
    )
    vix = SampleSeries(
        name="vix",
        kind="stock",
        unit="index points",
        frequency="B",
        points=closes,
        labels=vix_labels(closes.index[0], closes.index[-1]),
        label_source="known events",
    )
    return [*synthetic_series(size), vix]


def found(
    labels: list[Injected],
    events: list[tuple[pd.Timestamp, pd.Timestamp]],
    tolerance: BaseOffset | pd.Timedelta,
) -> list[bool]:
    """For each label, whether an event (start, end) overlaps its span widened by `tolerance`
    on both sides."""
    hits = []
    for label in labels:
        first, last = label.start - tolerance, label.end + tolerance
        hits.append(any(start <= last and end >= first for start, end in events))
    return hits
