"""Which series a pipeline processes: named ones, or its selector over its source."""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence

from sqlalchemy.orm import Session

from forecaster.config.pipeline import PipelineSettings
from forecaster.db.repo.series import series_kinds
from forecaster.errors import SeriesNotFound
from pipelines.context import AppContext


def select_series(
    context: AppContext, session: Session, pipeline: PipelineSettings, names: Sequence[str]
) -> list[str]:
    """Series to process: `names` when given (each must exist), else the pipeline's selector."""
    available = context.source(pipeline.name).series_names(session)
    if names:
        missing = [n for n in names if n not in available]
        if missing:
            raise SeriesNotFound(
                f"no series named {', '.join(map(repr, missing))} in pipeline "
                f"{pipeline.name!r}'s source (see `forecaster series`)"
            )
        return list(dict.fromkeys(names))
    selector = pipeline.series
    chosen = [n for n in available if selector.names is None or n in selector.names]
    if selector.pattern is not None:
        chosen = [n for n in chosen if fnmatch.fnmatchcase(n, selector.pattern)]
    if selector.kind is not None:
        kinds = series_kinds(session=session)
        chosen = [n for n in chosen if kinds.get(n, "sensor") == selector.kind]
    return chosen
