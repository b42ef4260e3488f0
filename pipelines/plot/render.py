"""Draw a series with its forecasts and anomalies (PNG), and an HTML page over several series.

matplotlib is imported inside `render_png` only, with the Agg canvas: nothing here needs a
display, and the CLI and database code never load it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecaster.db.session import transaction
from forecaster.db.time_range import TimeRange
from forecaster.errors import ForecasterError
from pipelines.context import AppContext
from pipelines.plot.data import PlotData, load_plot_data

TOP_EVENTS = 5  # events listed per series on the HTML page, by peak score
FIGURE_SIZE = (12.0, 4.5)  # inches
DPI = 100

_OBSERVED, _PREDICTED, _FORECAST, _ANOMALY = "#1f3b57", "#e67e22", "#8e44ad", "#d62728"


class NoDataInRange(ForecasterError):
    """A series has no observations in the requested time range."""


@dataclass(frozen=True)
class Page:
    """One series drawn: its data and the PNG written (None: no data in the range)."""

    data: PlotData
    png: Path | None


def read_series(
    context: AppContext, pipeline_name: str | None, name: str, time_range: TimeRange
) -> PlotData:
    """The stored data of one series in a read-only transaction."""
    pipeline = context.settings.pipeline(pipeline_name)
    with transaction(context.sessions) as session:
        return load_plot_data(
            session=session, pipeline=pipeline.name, name=name, time_range=time_range
        )


def plot_series(
    context: AppContext, pipeline_name: str | None, name: str, out: Path, time_range: TimeRange
) -> PlotData:
    """Draw one series into `out`; NoDataInRange when it has no observations in the range."""
    data = read_series(context, pipeline_name, name, time_range)
    if data.observed.empty:
        raise NoDataInRange(f"series {name!r} has no observations {_describe(time_range)}")
    render_png(data, out)
    return data


def plot_pages(
    context: AppContext,
    pipeline_name: str | None,
    names: Sequence[str],
    directory: Path,
    time_range: TimeRange = TimeRange(),
) -> list[Page]:
    """Draw every series into `directory/<name>.png` and write `directory/index.html`."""
    directory.mkdir(parents=True, exist_ok=True)
    pages = []
    for name in names:
        data = read_series(context, pipeline_name, name, time_range)
        png = None
        if not data.observed.empty:
            png = directory / f"{file_stem(name)}.png"
            render_png(data, png)
        pages.append(Page(data=data, png=png))
    (directory / "index.html").write_text(html_page(pages, time_range), encoding="utf-8")
    return pages


def file_stem(name: str) -> str:
    """A file name for a series: characters other than letters, digits, '.', '_', '-' become
    '_' (series names are free text)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name) or "_"


def _describe(time_range: TimeRange) -> str:
    if time_range.start is None and time_range.end is None:
        return "at all"
    start = "the beginning" if time_range.start is None else time_range.start.isoformat()
    end = "the end" if time_range.end is None else time_range.end.isoformat()
    return f"between {start} and {end}"


def render_png(data: PlotData, out: Path) -> None:
    """Observed values, one-step predictions and the latest forecast with their bands,
    anomalies as dots and events shaded, on a concise date axis."""
    import matplotlib.dates as mdates
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=FIGURE_SIZE, dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    observed = data.observed
    axes.plot(_x(observed.index), observed.to_numpy(), color=_OBSERVED, lw=0.8, label="observed")
    _draw_predictions(axes, data)
    _draw_forecast(axes, data)
    _draw_anomalies(axes, data)
    locator = mdates.AutoDateLocator()
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    axes.set_xlim(_x([observed.index[0]])[0], _x([_last_time(data)])[0])
    axes.set_ylabel(data.unit or "value")
    axes.set_title(
        f"{data.series}  (pipeline {data.pipeline}: {len(data.anomalies)} anomalous points in "
        f"{len(data.events)} events; times UTC)"
    )
    axes.grid(alpha=0.3)
    axes.legend(loc="upper left", fontsize="small", ncols=3, framealpha=0.8)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, format="png")


def _draw_predictions(axes: Any, data: PlotData) -> None:
    """The stored one-step forecasts and their band."""
    predictions = data.predictions
    if predictions.empty:
        return
    x = _x(predictions["ts"])
    axes.fill_between(
        x,
        predictions["lower"],
        predictions["upper"],
        color=_PREDICTED,
        alpha=0.18,
        lw=0,
        label="one-step band",
    )
    axes.plot(x, predictions["predicted"], color=_PREDICTED, lw=0.7, label="one-step forecast")


def _draw_forecast(axes: Any, data: PlotData) -> None:
    """The latest forecast (every step of the newest issue time) and its band."""
    forecast = data.forecast
    if forecast.empty or data.forecast_issued_at is None:
        return
    x = _x(forecast["ts"])
    axes.fill_between(x, forecast["lower"], forecast["upper"], color=_FORECAST, alpha=0.2, lw=0)
    axes.plot(
        x,
        forecast["predicted"],
        color=_FORECAST,
        lw=1.2,
        ls="--",
        marker=".",
        ms=3,
        label=f"forecast issued {data.forecast_issued_at:%Y-%m-%d %H:%M}",
    )


def _draw_anomalies(axes: Any, data: PlotData) -> None:
    """Events shaded (half a step wider on each side) and anomalous points as dots."""
    step = _step(pd.DatetimeIndex(data.observed.index))
    starts, ends = _x(data.events["start_ts"] - step / 2), _x(data.events["end_ts"] + step / 2)
    for k, (first, last) in enumerate(zip(starts, ends, strict=True)):
        label = f"events ({len(data.events)})" if k == 0 else None
        axes.axvspan(first, last, color=_ANOMALY, alpha=0.12, lw=0, label=label)
    anomalies = data.anomalies
    if not anomalies.empty:
        axes.scatter(
            _x(anomalies["ts"]),
            anomalies["observed"],
            s=14,
            color=_ANOMALY,
            zorder=5,
            label=f"anomalies ({len(anomalies)})",
        )


def _x(times: list[pd.Timestamp] | pd.Index | pd.Series) -> np.ndarray:
    """Times as naive UTC datetime64 for matplotlib (aware times would be shown in the local
    zone)."""
    return pd.DatetimeIndex(times).tz_convert("UTC").tz_localize(None).to_numpy()


def _step(index: pd.DatetimeIndex) -> pd.Timedelta:
    """The typical spacing of the points (shading of one-point events has this width)."""
    if len(index) < 2:
        return pd.Timedelta(hours=1)
    return pd.Timedelta(pd.Series(index).diff().median())


def _last_time(data: PlotData) -> pd.Timestamp:
    last = data.observed.index[-1]
    if not data.forecast.empty:
        last = max(last, data.forecast["ts"].iloc[-1])
    return pd.Timestamp(last)


def html_page(pages: Sequence[Page], time_range: TimeRange = TimeRange()) -> str:
    """index.html: each series with its PNG and its top events by peak score."""
    sections = []
    for page in pages:
        data = page.data
        name = html.escape(data.series)
        head = (
            f"<h2 id='{html.escape(file_stem(data.series))}'>{name}</h2>\n<p>{len(data.observed)} "
            f"points, {len(data.anomalies)} anomalous points in {len(data.events)} events "
            f"(pipeline {html.escape(data.pipeline)})</p>"
        )
        if page.png is None:
            sections.append(f"{head}\n<p>no observations {html.escape(_describe(time_range))}</p>")
            continue
        rows = "".join(
            f"<tr><td>{e['start_ts']:%Y-%m-%d %H:%M}</td><td>{e['end_ts']:%Y-%m-%d %H:%M}</td>"
            f"<td>{e['peak_ts']:%Y-%m-%d %H:%M}</td><td>{e['peak_score']:.4f}</td>"
            f"<td>{e['n_points']}</td><td>{html.escape(str(e['direction']))}</td>"
            f"<td>{html.escape(str(e['severity']))}</td></tr>\n"
            for e in data.top_events(TOP_EVENTS).to_dict("records")
        )
        table = (
            "<table><tr><th>start (UTC)</th><th>end</th><th>peak</th><th>peak score</th>"
            f"<th>points</th><th>direction</th><th>severity</th></tr>\n{rows}</table>"
            if rows
            else "<p>no anomaly events</p>"
        )
        image = f"<img src='{html.escape(page.png.name)}' alt='{name}' width='100%'>"
        sections.append(f"{head}\n{image}\n<h3>top events by peak score</h3>\n{table}")
    toc = " · ".join(
        f"<a href='#{html.escape(file_stem(p.data.series))}'>{html.escape(p.data.series)}</a>"
        for p in pages
    )
    body = "\n<hr>\n".join(sections)
    return (
        "<!doctype html>\n<html><head><meta charset='utf-8'><title>forecaster: series and "
        "anomalies</title>\n<style>body{font-family:sans-serif;max-width:1250px;margin:auto}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;"
        "text-align:left}</style></head>\n<body>\n<h1>forecaster: series and anomalies</h1>\n"
        f"<p>{toc}</p>\n{body}\n</body></html>\n"
    )
