"""Run settings of impactlens, read from ``IMPACTLENS_*`` environment variables.

Only `get_settings` builds a `Settings`; importing this module reads nothing, so tests
set the environment (or pass values) before they ask for settings, never before import.

>>> Settings(data_dir="/srv/impactlens").database_url
'sqlite:////srv/impactlens/impactlens.db'
>>> Settings(database_url="postgresql+psycopg://impactlens@db/impactlens").database_url
'postgresql+psycopg://impactlens@db/impactlens'
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from impactlens.errors import ImpactlensError

__all__ = ["DATA_DIR_NAME", "Settings", "SettingsError", "get_settings"]

DATA_DIR_NAME = ".impactlens"
DATABASE_FILE_NAME = "impactlens.db"


class SettingsError(ImpactlensError):
    """An ``IMPACTLENS_*`` environment variable whose value cannot be used."""


class Settings(BaseSettings):
    """Where impactlens keeps its data.

    ``IMPACTLENS_DATA_DIR`` (default ``.impactlens/`` under the current directory) holds
    the embedded SQLite database; ``IMPACTLENS_DATABASE_URL`` (any SQLAlchemy URL, e.g.
    ``sqlite:///other.db`` or ``postgresql+psycopg://user@host/db``) overrides it for
    every command. Nothing is created here: the store creates a SQLite file's folder
    when it first opens it.
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

    @model_validator(mode="after")
    def _default_database_url(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / DATABASE_FILE_NAME}"
        return self


def get_settings() -> Settings:
    """The settings from the environment now (not cached: each call reads it again).

    Raises `SettingsError` naming the variable and the problem when a value is unusable.
    """
    try:
        return Settings()
    except ValidationError as error:
        problems = "; ".join(
            f"IMPACTLENS_{'_'.join(str(part) for part in issue['loc']).upper()}: "
            f"{issue['msg'].removeprefix('Value error, ')}"
            for issue in error.errors()
        )
        raise SettingsError(f"invalid settings: {problems}") from None
