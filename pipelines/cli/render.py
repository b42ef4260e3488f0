"""Text and rich tables for the command results; formatting only, no I/O and no typer."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from rich.markup import escape
from rich.table import Table
from rich.text import Text

from forecaster.vocabulary import MAX_EXAMPLES

# Only for annotations: the result types live in modules that import pandas or SQLAlchemy.
if TYPE_CHECKING:
    from forecaster.db.repo.series import SeriesSummary
    from forecaster.model.predict import TrainedModel
    from pipelines.demo.tour import DemoResult
    from pipelines.jobs.backfill import RunResult
    from pipelines.jobs.evaluate import Evaluation
    from pipelines.jobs.forecast import ForecastReport
    from pipelines.jobs.ingest import IngestReport
    from pipelines.jobs.status import PipelineStatus
    from pipelines.model_runtime import ActiveModel


def literal(value: object) -> str:
    """A name, path or message as rich markup that prints exactly as it is: user text such as
    a series called `foo[/]bar` or `[bold red]x` is never read as styling."""
    return escape(str(value))


def number_text(value: object) -> str:
    """A metric with 6 significant digits, or n/a when it is missing or not a number."""
    if isinstance(value, int | float):
        return f"{value:.6g}"
    return "n/a"


def time_text(value: datetime | None) -> str:
    """A timestamp to the second, or - when there is none."""
    return "-" if value is None else f"{value:%Y-%m-%d %H:%M:%S}"


def age_text(delta: timedelta) -> str:
    """A duration in the largest unit that keeps it at two or more: 90s, 5min, 3h, 2d."""
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}min"
    if seconds < 172800:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def score_text(score: float | None) -> str:
    """A NAB score to one decimal, or n/a when the profile could not be scored."""
    return "n/a" if score is None else f"{score:.1f}"


def ingest_lines(report: IngestReport, on_duplicate: str) -> list[str]:
    """What an ingest read and changed, then one line per kind of problem in the file."""
    parsed = report.file
    points = parsed.points
    action = "created" if report.created else "updated"
    lines = [
        f"{literal(parsed.path)}: {parsed.rows_read} row(s) read into series "
        f"[bold]{literal(report.series)}[/] ({action}, kind {literal(report.kind)}, "
        f"frequency {literal(report.frequency or 'unknown')})",
        f"  {report.counts.inserted} inserted, {report.counts.updated} updated, "
        f"{report.counts.unchanged} unchanged; span {points.index[0].isoformat()} .. "
        f"{points.index[-1].isoformat()}",
    ]
    label = parsed.line_label
    if parsed.bad_rows:
        shown = ", ".join(
            f"{label} {p.line} ({literal(p.reason)})" for p in parsed.bad_rows[:MAX_EXAMPLES]
        )
        lines.append(f"  [yellow]skipped {len(parsed.bad_rows)} bad row(s)[/]: {shown}")
    if parsed.missing_value_lines:
        missing = parsed.missing_value_lines
        shown = ", ".join(map(str, missing[:MAX_EXAMPLES])) + (
            ", ..." if len(missing) > MAX_EXAMPLES else ""
        )
        lines.append(
            f"  [yellow]{len(missing)} row(s) had no value[/] ({label}s {shown}): "
            "not stored, they are gaps"
        )
    if parsed.times_truncated:
        lines.append(
            f"  [yellow]{parsed.times_truncated} time(s) had digits below a microsecond[/]: "
            "cut to microseconds (the databases' precision) before looking for repeated times"
        )
    if parsed.duplicates_dropped:
        lines.append(
            f"  [yellow]{parsed.duplicates_dropped} row(s) repeated an earlier timestamp[/]: "
            f"kept the {on_duplicate} row of each (--on-duplicate to choose)"
        )
    if parsed.was_unsorted:
        lines.append("  rows were not in time order; they were sorted")
    if report.kind_ignored:
        lines.append(
            f"  note: series exists with kind {literal(repr(report.kind))}; "
            f"--kind {literal(report.kind_ignored)} ignored"
        )
    return lines


def series_table(summaries: list[SeriesSummary]) -> Table:
    """One row per stored series: kind, unit, frequency, point count and span."""
    table = Table("series", "kind", "unit", "frequency", "points", "first", "last")
    for s in summaries:
        table.add_row(
            Text(s.name),
            Text(s.kind),
            Text(s.unit or ""),
            Text(s.frequency or ""),
            str(s.points),
            s.first_ts.isoformat() if s.first_ts else "",
            s.last_ts.isoformat() if s.last_ts else "",
        )
    return table


def train_summary(series: str, active: ActiveModel) -> str:
    """The stored version, what it was trained on and its one-step error beside the naive one."""
    m = active.model
    metrics = m.metrics
    return (
        f"series [bold]{literal(series)}[/]: version {active.version} stored in "
        f"{literal(active.path)}\n"
        f"  trained on {metrics.get('points')} points, {m.trained_from.isoformat()} .. "
        f"{m.trained_to.isoformat()} (frequency {literal(m.frequency)}), "
        f"{metrics.get('epochs')} epochs, "
        f"{metrics.get('fit_seconds')} s\n"
        f"  one-step error on the {metrics.get('band_from')} span: "
        f"MAE {number_text(metrics.get('mae'))}"
        f" (naive last-value MAE {number_text(metrics.get('naive_mae'))}, series std "
        f"{number_text(metrics.get('series_std'))})" + _persistence_note(m)
    )


def _persistence_note(model: TrainedModel) -> str:
    """Why a model forecasts the last value: the network's own error was larger."""
    if not model.persistence:
        return ""
    network = number_text(model.metrics.get("network_mae"))
    return f"\n  forecasts the last value: the network's MAE {network} was larger"


def forecast_table(series: str, report: ForecastReport) -> Table:
    """The forecast steps with their band, titled with the issue time and the model version."""
    f = report.forecast
    coverage = round(report.model.model.settings.band_coverage * 100)
    table = Table(
        "step",
        "ts",
        "predicted",
        f"lower ({coverage}%)",
        f"upper ({coverage}%)",
        title=f"{literal(series)}: forecast issued at {f.issued_at.isoformat()} "
        f"by model version {report.model.version}",
    )
    steps = zip(f.index, f.predicted, f.lower, f.upper, strict=True)
    for step, (ts, p, lo, hi) in enumerate(steps, start=1):
        table.add_row(str(step), ts.isoformat(), number_text(p), number_text(lo), number_text(hi))
    return table


def backfill_table(result: RunResult, action: str = "backfill") -> Table:
    """One row per series of a backfill (or redetect) run: what it read, scored and found,
    and its status."""
    table = Table(
        "series",
        "points",
        "scored",
        "anomalies",
        "new events",
        "models trained",
        "seconds",
        "status",
        title=f"{action} of pipeline {literal(result.pipeline)} (run {result.run_id})",
    )
    for r in result.reports:
        status = Text("ok", style="green")
        if not r.ok:
            status = Text.assemble(("failed:", "red"), f" {r.error}")
        elif r.notes:
            status = Text("; ".join(r.notes))
        table.add_row(
            Text(r.series),
            str(r.points_read),
            str(r.points_scored),
            str(r.anomalies),
            str(r.events),
            str(r.models_trained),
            f"{r.seconds:.1f}",
            status,
        )
    return table


def evaluate_table(result: Evaluation, data: Path) -> Table:
    """Per category and in total, the product's scores on a row above the baseline's."""
    table = Table(
        "group",
        "files",
        "detector",
        "NAB standard",
        "low FP",
        "low FN",
        "precision",
        "recall",
        "F1",
        title=f"evaluate: pipeline {literal(result.pipeline)} on {literal(data)}",
    )
    product, baseline = result.product, result.baseline
    groups = [
        (name, product.categories[name], baseline.categories[name])
        for name in sorted(product.categories)
    ]
    groups.append(("total", product.total, baseline.total))
    for name, ours, theirs in groups:
        for label, group in (("forecaster", ours), ("baseline", theirs)):
            nab = group.nab
            table.add_row(
                name if label == "forecaster" else "",
                str(group.files),
                label,
                score_text(nab["standard"].score),
                score_text(nab["reward_low_FP_rate"].score),
                score_text(nab["reward_low_FN_rate"].score),
                f"{group.overlap.precision:.2f}",
                f"{group.overlap.recall:.2f}",
                f"{group.overlap.f1:.2f}",
            )
    return table


def status_table(pipeline: PipelineStatus, now: datetime) -> Table:
    """A pipeline's series (watermark, lag, model and its age, last error) under its last run."""
    run = pipeline.last_run
    last = "never run"
    if run is not None:
        when = run.finished_at or run.started_at
        last = f"last run {run.id} ({run.kind}) {run.status} at {when:%Y-%m-%d %H:%M:%S}Z"
    table = Table(
        "series",
        "watermark",
        "newest point",
        "lag",
        "model",
        "model age",
        "last error or note",
        title=f"pipeline {literal(pipeline.name)}: {len(pipeline.series)} series, {last}",
    )
    for s in pipeline.series:
        table.add_row(
            Text(s.series),
            time_text(s.watermark),
            time_text(s.newest),
            "-" if s.lag is None else age_text(s.lag.to_pytimedelta()),
            f"v{s.model_version}" if s.model_version else "-",
            age_text(now - s.model_trained_at) if s.model_trained_at else "-",
            Text(s.error, style="red") if s.error else Text(s.note or "", style="yellow"),
        )
    return table


def demo_table(result: DemoResult) -> Table:
    """One row per demo series: its points, what was flagged and how many labels were found."""
    table = Table(
        "series",
        "kind",
        "points",
        "anomalous points",
        "events",
        "labelled anomalies found",
        title=f"forecaster demo in {literal(result.directory)} ({result.seconds:.0f} s)",
    )
    for o in result.outcomes:
        labels = o.sample.labels
        what = "injected" if o.sample.label_source == "injected" else "known market shocks"
        hits = f"{sum(o.found)} of {len(labels)} {what}" if labels else "-"
        if o.error:
            hits = f"[red]failed:[/] {literal(o.error)}"
        table.add_row(
            o.sample.name, o.sample.kind, str(o.points), str(o.anomalies), str(o.events), hits
        )
    return table


def demo_missed(result: DemoResult) -> list[str]:
    """The labelled anomalies no anomaly event overlapped, as `series: kind at time`."""
    return [
        f"{o.sample.name}: {label.kind} at {label.start:%Y-%m-%d %H:%M}"
        for o in result.outcomes
        for label, hit in zip(o.sample.labels, o.found, strict=True)
        if not hit
    ]
