"""A memory of each series' last step, and the caching source that serves the next step from it.

A step reads the scoring context before its new points (a few thousand points and their stored
one-step predictions). The step before it read and produced exactly that context, so the
daemon (between cycles) and a backfill (between chunks) keep, per series, the raw points and
one-step predictions up to its watermark, and the network state after it when the step reached
the newest point; the next step then reads only the points after the watermark (and runs the
network one step per new point when a state is kept), with bit-for-bit the values a fresh read
gives. For a daemon claim, the states and new points of all its series are prefetched in a few
queries.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecaster.db.repo.events import last_events_of
from forecaster.db.repo.model_versions import list_model_versions_of
from forecaster.db.repo.watermarks import series_with_watermarks
from forecaster.db.time_range import TimeRange
from forecaster.detection.memo import DetectionMemo
from forecaster.errors import SeriesNotFound
from forecaster.model.predict import NetworkState
from pipelines.detect.plan import ReadPlan
from pipelines.detect.source import DatabaseSource
from pipelines.detect.state import SeriesState, series_state
from pipelines.detect.step import Scored


@dataclass(frozen=True)
class Recent:
    """A series' raw points and stored one-step predictions up to its watermark."""

    watermark: pd.Timestamp
    raw: pd.Series  # raw points as the source returned them, every one up to the watermark
    predictions: pd.Series  # one-step predictions by target time (finite ones only)
    # The network's state after the watermark's point, valid for that model version only.
    network: NetworkState | None = None
    network_version: int | None = None
    # `raw` holds every raw point from this time on (None: from the series' first point).
    read_from: pd.Timestamp | None = None
    # The threshold levels the step fitted (reused only where a fit window is unchanged).
    detection: DetectionMemo | None = None


class SeriesMemory:
    """Recent points per (pipeline, series id), valid only while the watermark is unchanged.

    Whoever else moves a watermark (a backfill, an operator, another replica) makes the entry
    stale: it is then ignored and the context is read from the database again. Points that
    arrive late, behind the watermark, are never scored either way; a remembered context does
    not see them. `retain` drops the series a cycle did not process, so memory follows the
    series this replica works on.
    """

    def __init__(self) -> None:
        self._items: dict[tuple[str, int], Recent] = {}

    def recall(self, pipeline: str, series_id: int, watermark: pd.Timestamp) -> Recent | None:
        recent = self._items.get((pipeline, series_id))
        if recent is None or recent.watermark != watermark:
            return None
        return recent

    def remember(self, pipeline: str, series_id: int, recent: Recent) -> None:
        self._items[(pipeline, series_id)] = recent

    def forget(self, pipeline: str, series_id: int) -> None:
        self._items.pop((pipeline, series_id), None)

    def retain(self, pipeline: str, series_ids: Collection[int]) -> None:
        """Forget the pipeline's series other than `series_ids`."""
        keep = set(series_ids)
        for key in [k for k in self._items if k[0] == pipeline and k[1] not in keep]:
            del self._items[key]

    def __len__(self) -> int:
        return len(self._items)


def remember(memory: SeriesMemory, pipeline: str, scored: Scored) -> None:
    """After a step committed: keep what the next step needs of it. A warm-up step (before the
    first model) has no predictions, and none are stored before the first cut-off either. The
    network state is there only when the step reached the newest point (`Scored.network`); the
    next chunk of a backfill starts its network pass afresh, as after a database read."""
    step = scored.step
    known = np.isfinite(scored.predicted) & step.span.observed
    recent = Recent(
        watermark=step.last_ts,
        raw=step.raw,
        predictions=pd.Series(scored.predicted[known], index=step.span.index[known]),
        network=scored.network,
        network_version=None if scored.model is None else scored.model.version_id,
        read_from=step.read_from,
        detection=step.memo,
    )
    memory.remember(pipeline, step.state.series_id, recent)


class CachingSource:
    """A StepSource around the database source: remembered series read only their new points,
    and a claim's states and new points come from one prefetch for all of its series."""

    def __init__(self, inner: DatabaseSource, memory: SeriesMemory) -> None:
        self.inner = inner
        self.memory = memory
        self._states: dict[str, SeriesState] = {}  # a claim's, prefetched
        self._read_states: dict[str, SeriesState] = {}  # read one by one, outside a claim
        self._newest: dict[str, pd.Timestamp | None] = {}
        self._new_points: dict[str, tuple[TimeRange, pd.Series]] = {}
        self._recalled: dict[int, Recent] = {}  # served from memory in this source's reads

    # --- prefetching a claim ------------------------------------------------------------

    def prefetch_states(self, names: Sequence[str]) -> None:
        """The states of a claim's series in three queries (rows and watermarks, models, last
        events) instead of three per series."""
        pipeline, session = self.inner.pipeline, self.inner.session
        rows = series_with_watermarks(session=session, pipeline=pipeline, names=names)
        ids = [row.id for row, _ in rows.values()]
        versions = list_model_versions_of(session=session, pipeline=pipeline, series_ids=ids)
        events = last_events_of(session=session, pipeline=pipeline, series_ids=ids)
        for name, (row, mark) in rows.items():
            state = series_state(name, row, mark, versions[row.id], events.get(row.id))
            self._states[name] = state

    def prefetch_points(self, plans: Mapping[str, ReadPlan]) -> None:
        """The new points of the remembered series and the newest point of every bounded read,
        one query each for the whole claim."""
        series, session = self.inner.series, self.inner.session
        ranges = {}
        for name, plan in plans.items():
            recent = self._covering(name, plan.start)
            if recent is not None:
                ranges[name] = self._after(recent, plan.time_range)
        found = series.read_many(session, ranges) if ranges else {}
        self._new_points = {name: (ranges[name], found[name]) for name in ranges}
        bounded = [name for name, plan in plans.items() if plan.bounded]
        self._newest = series.newest_of(session, bounded) if bounded else {}

    # --- the StepSource methods ------------------------------------------------------------

    def state(self, name: str) -> SeriesState:
        if name in self._states:
            return self._states[name]
        if self._states:  # a prefetched claim: the series has no row
            raise SeriesNotFound(f"series {name!r} has no row in the series table")
        # Read once per source (one transaction): a step asks for it several times.
        if name not in self._read_states:
            self._read_states[name] = self.inner.state(name)
        return self._read_states[name]

    def oldest(self, name: str) -> pd.Timestamp | None:
        return self.inner.oldest(name)

    def newest(self, name: str) -> pd.Timestamp | None:
        if name in self._newest:
            return self._newest[name]
        return self.inner.newest(name)

    def first_points(self, name: str, count: int) -> pd.Series:
        return self.inner.first_points(name, count)

    def points(self, name: str, time_range: TimeRange) -> pd.Series:
        start = None if time_range.start is None else pd.Timestamp(time_range.start)
        recent = self._covering(name, start)
        if recent is None:
            return self.inner.points(name, time_range)
        wanted = self._after(recent, time_range)
        prefetched = self._new_points.get(name)
        if prefetched is not None and prefetched[0] == wanted:
            new_points = prefetched[1]
        else:
            new_points = self.inner.points(name, wanted)
        kept = recent.raw[_inside(recent.raw.index, time_range, recent.watermark)]
        self._recalled[self.state(name).series_id] = recent
        return pd.concat([kept, new_points]) if len(new_points) else kept

    def predictions(self, state: SeriesState, time_range: TimeRange) -> pd.Series:
        recent = self._recalled.get(state.series_id)
        if recent is None:
            return self.inner.predictions(state, time_range)
        return recent.predictions[_inside(recent.predictions.index, time_range)]

    def network_state(self, state: SeriesState) -> tuple[int | None, NetworkState] | None:
        recent = self._recalled.get(state.series_id)
        if recent is None or recent.network is None:
            return None
        return recent.network_version, recent.network

    def detection_memo(self, state: SeriesState) -> DetectionMemo | None:
        recent = self._recalled.get(state.series_id)
        return None if recent is None else recent.detection

    # --- helpers ---------------------------------------------------------------------------

    def _covering(self, name: str, start: pd.Timestamp | None) -> Recent | None:
        """What is remembered of a series at its current watermark, when it holds every raw
        point from `start` (None: from the first point) to the watermark: then only the points
        after the watermark need reading."""
        state = self.state(name)
        if state.watermark is None:
            return None
        recent = self.memory.recall(self.inner.pipeline, state.series_id, state.watermark)
        if recent is None or not len(recent.raw):
            return None
        if recent.read_from is None:  # read from the series' first point: holds any start
            return recent
        if start is None or recent.read_from > start:
            return None
        return recent

    @staticmethod
    def _after(recent: Recent, time_range: TimeRange) -> TimeRange:
        """The part of a read that lies after the remembered watermark."""
        return TimeRange.after(recent.watermark.to_pydatetime(), time_range.end)


def _inside(times: pd.Index, time_range: TimeRange, last: pd.Timestamp | None = None) -> np.ndarray:
    """Which of `times` lie in `time_range` (and not after `last`, when given)."""
    inside = np.ones(len(times), dtype=bool)
    if time_range.start is not None:
        start = pd.Timestamp(time_range.start)
        inside &= (times > start) if time_range.start_exclusive else (times >= start)
    if time_range.end is not None:
        inside &= times <= pd.Timestamp(time_range.end)
    if last is not None:
        inside &= times <= last
    return inside
