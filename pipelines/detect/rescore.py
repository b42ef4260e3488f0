"""Before a run steps on: rewind the series whose observations changed behind the watermark.

The rule: a point written at or behind a pipeline's watermark marks the series; the next run
moves the watermark back to just before the earliest changed point (never more than
`preprocess.rescore_limit` grid steps behind the watermark, and to the start of an event that
reaches it), deletes the anomalies and events after it, and scores from there again with the
models already trained (a correction enters training at the next cut-off).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pandas as pd

from forecaster.config.pipeline import PipelineSettings
from forecaster.db.repo.rescoring import PendingRescore, pending_rescoring, rewind
from forecaster.db.session import transaction
from forecaster.series.grid import Grid
from pipelines.context import AppContext


def rewind_corrected(
    context: AppContext, pipeline: PipelineSettings, names: Sequence[str]
) -> dict[str, str]:
    """Rewind the marked series among `names` in one transaction; a note per rewound series."""
    notes: dict[str, str] = {}
    with transaction(context.sessions) as session:
        for pending in pending_rescoring(session=session, pipeline=pipeline.name, names=names):
            before = rescore_start(pending, pipeline)
            mark = rewind(
                session=session, pipeline=pipeline.name, series_id=pending.series_id, before=before
            )
            notes[pending.name] = f"re-scored from {pd.Timestamp(mark).isoformat()} (data changed)"
    return notes


def rescore_start(pending: PendingRescore, pipeline: PipelineSettings) -> datetime:
    """Where re-scoring starts: the bin of the first changed point, at most `rescore_limit`
    grid steps behind the watermark."""
    frequency = pipeline.preprocess.frequency or pending.frequency
    grid = Grid.stored(frequency, pending.grid_origin)
    changed = pd.Timestamp(pending.rescore_from)
    if grid is None:
        return changed.to_pydatetime()
    limit = pd.Timestamp(pending.last_ts) - pipeline.preprocess.rescore_limit * grid.offset
    return max(changed - grid.lead, limit).to_pydatetime()
