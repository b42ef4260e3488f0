"""Which series a pipeline reads, and from which table."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, field_validator, model_validator

from forecaster.config.strict import StrictModel
from forecaster.config.validators import check_series_name

SeriesName = Annotated[str, AfterValidator(check_series_name)]


class TableSourceSettings(StrictModel):
    """A user's existing table, read in place; identifiers are checked against the schema."""

    table: str
    db_schema: str | None = Field(default=None, alias="schema")
    time_column: str
    value_column: str
    series_column: str | None = None
    series_value: str | None = None
    series_name: str | None = Field(
        default=None,
        description="Name of the single series this table provides (default: the table name, "
        "or series_value when that is given).",
    )
    timezone: str = Field(default="UTC", description="Zone of naive timestamps in the table.")
    dayfirst: bool | None = Field(
        default=None,
        description="Text-typed times only: read dates like 01/02/2020 day first (true) or month "
        "first (false); default: as the table's rows tell, an error when they do not.",
    )
    time_format: str | None = Field(
        default=None,
        description="Text-typed times only: their strptime format, e.g. '%d/%m/%Y %H:%M'.",
    )

    @model_validator(mode="after")
    def _series_value_needs_column(self) -> TableSourceSettings:
        if self.series_value is not None and self.series_column is None:
            raise ValueError("series_value is given but series_column is not")
        return self

    @field_validator("series_name", "series_value")
    @classmethod
    def _usable_name(cls, value: str | None) -> str | None:
        return None if value is None else check_series_name(value)


class SeriesSelector(StrictModel):
    """Which series a pipeline processes; with no key set, every series."""

    names: list[SeriesName] | None = None
    pattern: str | None = Field(default=None, description="Shell-style glob on series names.")
    kind: str | None = None
