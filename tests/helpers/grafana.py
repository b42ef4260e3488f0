"""A Grafana dashboard's SQL as Grafana's PostgreSQL data source would send it: every query of
the JSON (panel targets, annotations, variables), template variables interpolated as the
frontend does, and the time macros expanded as the backend does (grafana/grafana
pkg/tsdb/grafana-postgresql-datasource/macros.go)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np


@dataclass(frozen=True)
class DashboardQuery:
    """One SQL query of a dashboard, named by where it is (`panel 'Events' A`)."""

    where: str
    sql: str
    format: str  # time_series or table (annotations and variables are read as tables)


def dashboard_queries(dashboard: dict[str, Any]) -> list[DashboardQuery]:
    """Every SQL query of the dashboard: panel targets (rows' panels too), SQL annotations and
    query variables. Grafana's built-in annotation carries no SQL and is left out."""
    found = []
    panels = list(dashboard.get("panels", []))
    for panel in panels:
        panels += panel.get("panels", [])  # a collapsed row holds its panels
        for target in panel.get("targets", []):
            where = f"panel {panel['title']!r} {target['refId']}"
            found.append(DashboardQuery(where, target["rawSql"], target.get("format", "table")))
    for annotation in dashboard.get("annotations", {}).get("list", []):
        if "target" in annotation and "rawSql" in annotation["target"]:
            sql = annotation["target"]["rawSql"]
            found.append(DashboardQuery(f"annotation {annotation['name']!r}", sql, "table"))
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            found.append(
                DashboardQuery(f"variable {variable['name']!r}", variable["query"], "table")
            )
    return found


# The frontend's variable syntaxes: $name and ${name} (templateSrv; [[name]] is deprecated).
VARIABLE = re.compile(r"\$(\w+)|\$\{(\w+)\}")


def interpolate(sql: str, variables: dict[str, str]) -> str:
    """Single-valued variables as the SQL data sources interpolate them: the value with its
    quotes doubled (the SQL writes the quotes around it). Unknown names stay, like Grafana's
    macros, which the backend expands next."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in variables:
            return match.group(0)
        return variables[name].replace("'", "''")

    return VARIABLE.sub(value, sql)


# The backend's macro call: $name(args), arguments without parentheses.
MACRO = re.compile(r"\$([_a-zA-Z0-9]+)\(([^\)]*)\)")
# Interval units of Grafana's gtime.ParseInterval (and Go durations) in seconds.
UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
INTERVAL = re.compile(r"(\d+)(ms|s|m|h|d|w)")


def expand_macros(sql: str, start: datetime, end: datetime) -> str:
    """The PostgreSQL data source's time macros expanded for the range start..end; any other
    `$name(…)` is an error, as Grafana answers it."""
    out, position = [], 0
    for match in MACRO.finditer(sql):
        name, args = match.group(1), [a.strip() for a in match.group(2).split(",")]
        # Grafana before 5.3 wrote $__timeGroup(…), for the aliased form: still honoured.
        if name == "__timeGroup" and sql[match.end() : match.end() + 1] == ",":
            name = "__timeGroupAlias"
        out += [sql[position : match.start()], _macro(name, args, start, end)]
        position = match.end()
    return "".join(out) + sql[position:]


def _macro(name: str, args: list[str], start: datetime, end: datetime) -> str:
    column = args[0]
    if name in ("__time", "__timeEpoch", "__timeFilter", "__timeGroup") and not column:
        raise ValueError(f"missing time column argument for macro {name}")
    match name:
        case "__time":
            return f'{column} AS "time"'
        case "__timeEpoch":
            return f'extract(epoch from {column}) as "time"'
        case "__timeFilter":
            return f"{column} BETWEEN '{rfc3339(start)}' AND '{rfc3339(end)}'"
        case "__timeFrom":
            return f"'{rfc3339(start)}'"
        case "__timeTo":
            return f"'{rfc3339(end)}'"
        case "__timeGroup":
            if len(args) != 2:  # a fill mode (third argument) is not expanded here
                raise ValueError(f"macro {name} needs a time column and an interval")
            seconds = go_float(interval_seconds(args[1].strip("'")))
            return f"floor(extract(epoch from {column})/{seconds})*{seconds}"
        case "__timeGroupAlias":
            return _macro("__timeGroup", args, start, end) + ' AS "time"'
    raise ValueError(f"unknown macro {name!r}")


def rfc3339(moment: datetime) -> str:
    """Go's time.RFC3339Nano of a UTC time: no trailing zeros in the fraction, `Z`."""
    moment = moment.astimezone(UTC)
    fraction = f"{moment.microsecond:06d}".rstrip("0")
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if fraction else "") + "Z"


def interval_seconds(text: str) -> float:
    """An interval such as `1h`, `15m` or `500ms` (what $__interval becomes) in seconds."""
    match = INTERVAL.fullmatch(text)
    if match is None:
        raise ValueError(f"error parsing interval {text!r}")
    return int(match.group(1)) * UNITS[match.group(2)]


def go_float(value: float) -> str:
    """A float as Go's %v prints it (strconv 'g', shortest digits): an exponent from 1e6 up
    and below 1e-4 (`1e+06`, `2.592e+06`), plain digits between (`3600`, `0.02`)."""
    exponent = int(np.floor(np.log10(abs(value)))) if value else 0
    if -4 <= exponent < 6:
        return np.format_float_positional(value, trim="-")
    return np.format_float_scientific(value, trim="-", exp_digits=2).replace(".e", "e")
