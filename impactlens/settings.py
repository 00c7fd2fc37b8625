"""The settings of impactlens: one object, read from the environment and an optional file.

Values come, highest first, from: what the caller passes (the CLI's options), the
``IMPACTLENS_*`` environment variables, the file ``impactlens.toml`` in the current
folder (or the file ``IMPACTLENS_CONFIG`` names), then the defaults. The analysis
defaults are the engine's own (`engine.weekly.ReviewSettings` and the rules in it), so
no default is written twice; `Settings.review_settings` converts them to those engine
dataclasses at the edge.

Only `get_settings` builds a `Settings` from the environment; importing this module
reads nothing.

>>> Settings(data_dir="/srv/impactlens").database_url
'sqlite:////srv/impactlens/impactlens.db'
>>> Settings(database_url="postgresql+psycopg://impactlens@db/impactlens").database_url
'postgresql+psycopg://impactlens@db/impactlens'
>>> Settings(baseline_weeks=4).review_settings().hotspots.chronic_weeks
4
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from impactlens.engine.facts import FactRules
from impactlens.engine.hotspots import HotspotRules
from impactlens.engine.keys import check_key_fields, key_fields_from_text
from impactlens.engine.tiers import DEFAULT_TIER_PATTERNS, tier_patterns
from impactlens.engine.weekly import ReviewSettings
from impactlens.errors import ImpactlensError
from impactlens.moments import time_zone

__all__ = [
    "CONFIG_FILE_NAME",
    "DATA_DIR_NAME",
    "Settings",
    "SettingsError",
    "get_settings",
]

DATA_DIR_NAME = ".impactlens"
DATABASE_FILE_NAME = "impactlens.db"
REPORTS_FOLDER = "reports"
_CRON_FIELD = re.compile(r"[0-9A-Za-z*/,\-?#L]+")
CONFIG_FILE_NAME = "impactlens.toml"
_DEFAULT_RULES = HotspotRules()
_DEFAULT_REVIEW = ReviewSettings()


class SettingsError(ImpactlensError):
    """A setting whose value cannot be used (from the environment, the file or an option)."""


class Settings(BaseSettings):
    """Where impactlens keeps its data, and how it analyses incidents.

    Each field is also the environment variable ``IMPACTLENS_<FIELD>`` and the key
    ``<field>`` of ``impactlens.toml``; lists and tables are JSON in the environment.
    """

    model_config = SettingsConfigDict(env_prefix="IMPACTLENS_", extra="ignore")

    data_dir: Path = Field(
        default_factory=lambda: Path.cwd() / DATA_DIR_NAME,
        description="Folder of the project's own data (the default SQLite database).",
    )
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL of the incident store; empty means "
        "sqlite:///<data_dir>/impactlens.db.",
    )
    service_map: Path | None = Field(
        default=None, description="The service map YAML used when a command is given none."
    )
    timezone: str = Field(
        default=_DEFAULT_REVIEW.timezone,
        description="IANA time zone whose Monday 00:00 starts each week.",
    )
    baseline_weeks: int = Field(
        default=_DEFAULT_RULES.baseline_weeks, ge=1, description="Hotspot baseline, in weeks."
    )
    chronic_weeks: int | None = Field(
        default=None,
        ge=1,
        description="High baseline weeks that make a key chronic; default "
        f"{_DEFAULT_RULES.chronic_weeks}, or every baseline week when there are fewer.",
    )
    hotspot_alpha: float = Field(
        default=_DEFAULT_RULES.alpha, gt=0, lt=1, description="Significance of the hotspot tests."
    )
    hotspot_min_escalated: int = Field(
        default=_DEFAULT_RULES.min_escalated,
        ge=1,
        description="Escalated incidents a week needs before it can flag a hotspot.",
    )
    hotspot_min_rate_ratio: float = Field(
        default=_DEFAULT_RULES.min_rate_ratio,
        gt=0,
        description="Shrunk rate ratio an emerging hotspot needs.",
    )
    group_by: tuple[str, ...] = Field(
        default=_DEFAULT_REVIEW.group_by,
        description="Hotspot key fields; empty: service, else CI, else category.",
    )
    repeat_days: float = Field(
        default=FactRules.repeat_days, ge=0, description="Repeat window, in days."
    )
    trend_weeks: int = Field(
        default=_DEFAULT_REVIEW.trend_weeks, ge=1, description="Weeks of the KPI trend."
    )
    min_gap: int = Field(
        default=_DEFAULT_REVIEW.min_gap,
        ge=1,
        description="Levels a priority must understate its impact by to be flagged.",
    )
    costliest: int = Field(
        default=_DEFAULT_REVIEW.costliest, ge=0, description="Costliest incidents kept."
    )
    monthly_baseline: int = Field(
        default=_DEFAULT_REVIEW.monthly_baseline,
        ge=1,
        description="The monthly report's hotspot baseline, in months.",
    )
    monthly_trend: int = Field(
        default=_DEFAULT_REVIEW.monthly_trend,
        ge=1,
        description="Months of the monthly report's KPI trend.",
    )
    tier_patterns: tuple[tuple[str, str], ...] = Field(
        default=DEFAULT_TIER_PATTERNS,
        description="Ordered [tier, regular expression] rules on assignment group names; "
        "the first that matches places the group.",
    )
    currency: str = Field(
        default=_DEFAULT_REVIEW.currency, description="Currency shown beside money (none)."
    )
    # ServiceNow Table API (ingest.servicenow_api; docs/servicenow.md).
    servicenow_instance: str = Field(
        default="",
        description="URL of the ServiceNow instance to pull incidents from, such as "
        "https://example.service-now.com (no credentials in it).",
    )
    servicenow_user: str = Field(
        default="", description="ServiceNow user for Basic authentication (with the password)."
    )
    servicenow_password: SecretStr | None = Field(
        default=None, description="Password of servicenow_user; never logged nor shown."
    )
    servicenow_token: SecretStr | None = Field(
        default=None,
        description="OAuth access token (Bearer); used instead of user and password when set.",
    )
    servicenow_page_size: int = Field(
        default=1000,
        ge=1,
        le=10000,
        description="Records asked for per Table API request (sysparm_limit; at most 10,000).",
    )
    servicenow_display_value: Literal["true", "false", "all"] = Field(
        default="true",
        description="Choice and reference fields as display values (true: '2 - High', group "
        "names), database values (false: 2, sys_ids) or both (all, display values kept); "
        "date-times are always read as their UTC database values.",
    )
    # Mail delivery of the weekly report (reports.delivery).
    smtp_host: str = Field(default="", description="Mail server the weekly report is sent through.")
    smtp_port: int = Field(
        default=587,
        ge=1,
        le=65535,
        description="Port of smtp_host: 587 (submission, STARTTLS) or 465 (TLS from the start).",
    )
    smtp_user: str = Field(default="", description="Login at smtp_host; empty: no login.")
    smtp_password: SecretStr | None = Field(
        default=None, description="Password of smtp_user; never logged nor shown."
    )
    smtp_starttls: bool = Field(
        default=True, description="Upgrade the connection with STARTTLS before logging in."
    )
    smtp_from: str = Field(default="", description="Sender address of the report mail.")
    smtp_to: tuple[str, ...] = Field(
        default=(),
        description="Recipients of the report mail (a list; JSON in the environment).",
    )
    # The HTTP API (impactlens serve).
    api_max_body_bytes: int = Field(
        default=32 * 1024 * 1024,
        ge=1024,
        description="Largest request body the API reads (a larger one is refused with 413).",
    )
    api_settle_impacts: bool = Field(
        default=True,
        description="Settle restored incidents' impacts in the background while serving "
        "(at start, after a map change, after ingests), so an incident's impact is a read "
        "by key; off: every read derives it.",
    )
    pagerduty_webhook_secrets: tuple[SecretStr, ...] = Field(
        default=(),
        description="Secrets of the PagerDuty v3 webhook subscriptions whose signatures "
        "POST /v1/webhooks/pagerduty accepts (a list: two during a rotation); none: refused.",
    )
    jira_webhook_secret: SecretStr | None = Field(
        default=None,
        description="Secret of the Jira webhook whose signature POST /v1/webhooks/jira "
        "accepts; none: refused.",
    )
    session_secret: SecretStr | None = Field(
        default=None,
        description="Key that signs the dashboard's session cookies (every worker and "
        "restart must share it); none: one is made and kept in <data_dir>/session-secret.",
    )
    # The report archive and the flows' schedules (flows.schedule).
    reports_dir: Path | None = Field(
        default=None,
        description="Folder of the report archive (one folder per week or month); "
        "empty means <data_dir>/reports.",
    )
    weekly_schedule: str = Field(
        default="0 7 * * 1",
        description="Cron of the weekly report flow, in the timezone setting (Mondays 07:00).",
    )
    monthly_schedule: str = Field(
        default="0 7 1-7 * 1",
        description="Cron of the monthly report flow, in the timezone setting; day of month "
        "and day of week must both match (the first Monday, 07:00).",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        config = Path(os.environ.get("IMPACTLENS_CONFIG", CONFIG_FILE_NAME))
        toml = TomlConfigSettingsSource(settings_cls, toml_file=config)
        return init_settings, env_settings, toml

    @field_validator("data_dir")
    @classmethod
    def _absolute_data_dir(cls, value: Path) -> Path:
        # Absolute now, so a later chdir does not move the database.
        return value.expanduser().absolute()

    @field_validator("database_url")
    @classmethod
    def _parsable_url(cls, value: str) -> str:
        value = value.strip()
        if value:
            from sqlalchemy.engine import make_url
            from sqlalchemy.exc import ArgumentError

            try:
                make_url(value)
            except ArgumentError:
                raise ValueError(
                    f"{value!r} is not a SQLAlchemy database URL "
                    "(e.g. sqlite:///path/to/file.db or postgresql+psycopg://user@host/db)"
                ) from None
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            time_zone(value)
        except ImpactlensError as error:
            raise ValueError(str(error)) from None
        return value

    @field_validator("servicenow_instance")
    @classmethod
    def _instance_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value:
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError("the instance must be a URL such as https://example.service-now.com")
        if parts.username is not None or parts.password is not None:
            # Said without echoing the URL: it holds a credential.
            raise ValueError(
                "the instance URL must not hold credentials: set IMPACTLENS_SERVICENOW_USER "
                "and IMPACTLENS_SERVICENOW_PASSWORD, or IMPACTLENS_SERVICENOW_TOKEN"
            )
        if parts.query or parts.fragment:
            raise ValueError(f"the instance URL {value!r} must have no query or fragment")
        return value

    @field_validator("smtp_to", mode="before")
    @classmethod
    def _recipients(cls, value: Any) -> Any:
        if isinstance(value, str):  # "a@example.com, b@example.com"
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("group_by", mode="before")
    @classmethod
    def _key_fields(cls, value: Any) -> Any:
        try:
            if isinstance(value, str):  # "category,assignment_group", as the CLI takes it
                return key_fields_from_text(value, what="group hotspots by")
            return check_key_fields(value, what="group hotspots by")
        except ImpactlensError as error:
            raise ValueError(str(error)) from None

    @field_validator("tier_patterns", mode="before")
    @classmethod
    def _tier_patterns(cls, value: Any) -> tuple[tuple[str, str], ...]:
        try:
            return tier_patterns(value)
        except ImpactlensError as error:
            raise ValueError(str(error)) from None

    @field_validator("weekly_schedule", "monthly_schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        # The shape only: Prefect checks each field when the flows are served.
        fields = value.split()
        if len(fields) != 5 or not all(_CRON_FIELD.fullmatch(field) for field in fields):
            raise ValueError(f"{value!r} is not a cron expression of 5 fields such as '0 7 * * 1'")
        return " ".join(fields)

    @model_validator(mode="after")
    def _default_paths(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / DATABASE_FILE_NAME}"
        if self.reports_dir is None:
            self.reports_dir = self.data_dir / REPORTS_FOLDER
        else:
            self.reports_dir = self.reports_dir.expanduser().absolute()
        return self

    @property
    def report_archive(self) -> Path:
        """The report archive's folder (`reports_dir`, defaulted)."""
        return self.reports_dir or self.data_dir / REPORTS_FOLDER

    def review_settings(self) -> ReviewSettings:
        """These settings as the engine's `ReviewSettings`."""
        chronic = self.chronic_weeks or min(_DEFAULT_RULES.chronic_weeks, self.baseline_weeks)
        try:
            return ReviewSettings(
                timezone=self.timezone,
                facts=FactRules(repeat_days=self.repeat_days, tier_patterns=self.tier_patterns),
                hotspots=HotspotRules(
                    baseline_weeks=self.baseline_weeks,
                    alpha=self.hotspot_alpha,
                    min_escalated=self.hotspot_min_escalated,
                    min_rate_ratio=self.hotspot_min_rate_ratio,
                    chronic_weeks=chronic,
                ),
                group_by=self.group_by,
                trend_weeks=self.trend_weeks,
                min_gap=self.min_gap,
                costliest=self.costliest,
                currency=self.currency,
                monthly_baseline=self.monthly_baseline,
                monthly_trend=self.monthly_trend,
            )
        except ImpactlensError as error:
            raise SettingsError(f"invalid settings: {error}") from None


def get_settings(**overrides: Any) -> Settings:
    """The settings now: `overrides` (None values ignored) over the environment and file.

    Not cached: each call reads the environment and the file again. Raises
    `SettingsError` naming the setting, its variable and the problem when a value is
    unusable.
    """
    given = {name: value for name, value in overrides.items() if value is not None}
    try:
        return Settings(**given)
    except ValidationError as error:
        problems = [_problem(issue, given) for issue in error.errors()]
        # A bad option is named as the option; a bad variable or file value as a setting.
        prefix = "" if all(p.startswith("--") for p in problems) else "invalid settings: "
        raise SettingsError(prefix + "; ".join(problems)) from None
    except (OSError, ValueError) as error:  # an unreadable or invalid impactlens.toml
        config = os.environ.get("IMPACTLENS_CONFIG", CONFIG_FILE_NAME)
        raise SettingsError(f"settings file {config}: {error}") from None


def _problem(issue: Any, given: Mapping[str, Any]) -> str:
    name = str(issue["loc"][0]) if issue["loc"] else ""
    message = str(issue["msg"]).removeprefix("Value error, ")
    where = f"--{name.replace('_', '-')}" if name in given else f"IMPACTLENS_{name.upper()}"
    return f"{where}: {message}"
