"""Per-file, per-category and corpus reports of NAB scores and event overlap."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from forecaster.errors import ForecasterError
from forecaster.evaluation.corpus import Event, LabelledFile
from forecaster.evaluation.nab import (
    PROFILES,
    FileScore,
    Profile,
    get_profile,
    normalised_scores,
    score_file,
)
from forecaster.evaluation.overlap import OverlapCounts, event_overlap
from forecaster.vocabulary import MAX_EXAMPLES


@dataclass(frozen=True)
class NabTotals:
    """Summed NAB scores of a group of files under one profile, and its normalised score."""

    raw: float
    null: float
    perfect: float
    score: float | None  # normalised; None when the group has no scored window
    tp: int
    fp: int
    fn: int

    @classmethod
    def of(cls, results: Sequence[FileScore], profile: Profile | str) -> NabTotals:
        return cls(
            raw=sum(r.raw for r in results),
            null=sum(r.null for r in results),
            perfect=sum(r.perfect for r in results),
            score=normalised_scores(results, profile),
            tp=sum(r.tp for r in results),
            fp=sum(r.fp for r in results),
            fn=sum(r.fn for r in results),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "raw": self.raw,
            "null": self.null,
            "perfect": self.perfect,
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
        }


@dataclass(frozen=True)
class FileReport:
    """One file: NAB score per profile and event overlap."""

    key: str
    category: str
    nab: dict[str, FileScore]
    overlap: OverlapCounts

    def normalised(self, profile: str) -> float | None:
        return normalised_scores([self.nab[profile]], profile)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "category": self.category,
            "nab": {
                name: {"score": self.normalised(name), **score.to_dict()}
                for name, score in self.nab.items()
            },
            "events": self.overlap.to_dict(),
        }


@dataclass(frozen=True)
class GroupReport:
    """A category or the whole corpus: NAB totals per profile, pooled event counts."""

    files: int
    nab: dict[str, NabTotals]
    overlap: OverlapCounts

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "nab": {name: totals.to_dict() for name, totals in self.nab.items()},
            "events": self.overlap.to_dict(),
        }


@dataclass(frozen=True)
class CorpusReport:
    """Per file, per category and total results of one evaluation."""

    profiles: list[str]
    files: list[FileReport]
    categories: dict[str, GroupReport]
    total: GroupReport

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (``json.dumps`` works as is); undefined normalised scores are null."""
        return {
            "profiles": list(self.profiles),
            "total": self.total.to_dict(),
            "categories": {name: group.to_dict() for name, group in self.categories.items()},
            "files": [report.to_dict() for report in self.files],
        }


def evaluate_corpus(
    files: Sequence[LabelledFile],
    detections_by_key: Mapping[str, Sequence[pd.Timestamp]],
    events_by_key: Mapping[str, Sequence[Event]],
    timestamps_by_key: Mapping[str, pd.DatetimeIndex],
    profiles: Sequence[str] | None = None,
) -> CorpusReport:
    """Score every file under every profile (all three NAB profiles by default).

    A file with no entry in ``detections_by_key`` / ``events_by_key`` had no detection / event.
    Every file needs its rows in ``timestamps_by_key``; a key there or in the detections or
    events that names no file is a ForecasterError (most likely a typo or a stale result).
    Category and corpus totals pool counts and raw scores, they never average file ratios.
    """
    names = [get_profile(p).name for p in (profiles if profiles is not None else PROFILES)]
    known = {f.key for f in files}
    for what, mapping in (
        ("detections", detections_by_key),
        ("events", events_by_key),
        ("timestamps", timestamps_by_key),
    ):
        stray = sorted(set(mapping) - known)
        if stray:
            raise ForecasterError(
                f"{what} given for {len(stray)} key(s) not in the corpus: "
                + ", ".join(stray[:MAX_EXAMPLES])
            )
    missing = sorted(known - set(timestamps_by_key))
    if missing:
        raise ForecasterError(
            f"no timestamps for {len(missing)} corpus file(s): " + ", ".join(missing[:MAX_EXAMPLES])
        )

    reports: list[FileReport] = []
    for file in sorted(files, key=lambda f: f.key):
        detections = list(detections_by_key.get(file.key, []))
        events = list(events_by_key.get(file.key, []))
        timestamps = timestamps_by_key[file.key]
        try:
            nab = {name: score_file(timestamps, file.windows, detections, name) for name in names}
            overlap = event_overlap(file.windows, events)
        except (TypeError, ValueError) as exc:
            raise ForecasterError(f"cannot score {file.key}: {exc}") from None
        reports.append(FileReport(file.key, file.category, nab, overlap))

    def group(members: Sequence[FileReport]) -> GroupReport:
        overlap = sum((m.overlap for m in members), OverlapCounts())
        nab = {name: NabTotals.of([m.nab[name] for m in members], name) for name in names}
        return GroupReport(len(members), nab, overlap)

    categories = sorted({r.category for r in reports})
    return CorpusReport(
        profiles=names,
        files=reports,
        categories={c: group([r for r in reports if r.category == c]) for c in categories},
        total=group(reports),
    )
