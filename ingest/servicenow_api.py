"""Pull incidents from a ServiceNow instance's Table API into the store, incrementally.

`pull_servicenow` is the one call (the weekly flow's ingest task wraps it): it reads the
incidents updated since the store's watermark for that instance, page by page, their
assignment group changes from ``sys_audit`` where the instance lets it, parses them with
`ingest.servicenow.parse_servicenow`, and stores them with `ingest.pipeline.ingest_batch`
together with the new watermark, in one transaction. See docs/servicenow.md.

How the paging loses nothing
----------------------------
Plain offset paging over ``sys_updated_on>=W^ORDERBYsys_updated_on`` loses records: an
incident updated while the pull runs moves from an early page to the end, every record
after it moves up one place, and the record that moves into the page already read is
skipped; the watermark then passes it for good. So each page is asked for from where the
previous page ended, by value, not by position (keyset paging): the next query is
``sys_updated_on>=T`` with T the newest ``sys_updated_on`` of the page before, at offset 0.
A record updated meanwhile moves to a later T and is read later in this pull (or, updated
after the last page, in the next pull, which starts at the watermark: the newest
``sys_updated_on`` seen, compared with ``>=``). Records read twice (at a page boundary,
or before and after an update) are one record: the newest version is kept.

Only when more records than a page share one second T (a bulk update) does the pull page
by offset, through ``sys_updated_on>=T^sys_updated_on<=T^ORDERBYsys_id``. Records there
can only leave that second (an update moves them later), which lowers ``X-Total-Count``;
when the count changes between those pages, a record may have been skipped, so the
watermark stays at T and the next pull reads that second again. ``overlap`` (default a
minute) re-reads the last stretch before the watermark on every pull, for updates whose
transaction committed after a later one, or app nodes whose clocks differ a little.
Re-reading is harmless: ingest is idempotent and the newest ``updated_at`` wins.

Date-times in queries are written ``YYYY-MM-DD HH:MM:SS`` in UTC: ServiceNow takes a plain
value as UTC (``javascript:gs.dateGenerate(...)`` would be read in the API user's time
zone). For the same reason records are asked for with ``sysparm_display_value=all`` when
display values are wanted: a date-time's display value is in the user's zone and format,
while ``all`` also gives its UTC database value, which is what is read.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
import pandas as pd
from impactlens.ingest.formats import ReadBatch
from impactlens.ingest.pipeline import IngestReport, ingest_batch
from impactlens.ingest.plausibility import reject_implausible
from impactlens.ingest.read import records_frame
from impactlens.ingest.rows import history_frame
from impactlens.ingest.servicenow import parse_servicenow
from impactlens.ingest.servicenow_table import ServiceNowAccessError, TableClient, TablePage
from impactlens.store import Store, Watermark
from pydantic import SecretStr

from impactlens.errors import InvalidSettingsError, SourceError
from impactlens.moments import utc_moment

if TYPE_CHECKING:
    from impactlens.settings import Settings

__all__ = [
    "FORMAT",
    "ServiceNowConfig",
    "pull_servicenow",
    "raw_value",
    "watermark_name",
]

log = logging.getLogger(__name__)

FORMAT = "servicenow-api"  # how ingest runs name a pull
TABLE = "incident"
DISPLAY_VALUES = ("true", "false", "all")
# What the pull and the adapter need of each record, added to any `fields` asked for.
KEY_FIELDS = ("sys_id", "number", "sys_updated_on", "opened_at", "priority")
GLIDE_MOMENT = re.compile(r"(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})")
AUDIT_FIELDS = ("documentkey", "newvalue", "oldvalue", "sys_created_on", "record_checkpoint")
AUDIT_BATCH = 100  # incidents per sys_audit query (documentkeyIN...), to keep URLs short


@dataclass(frozen=True)
class ServiceNowConfig:
    """Where and how to pull: the instance, its credentials and the paging.

    ``display_value``: choice and reference fields as display values (``"true"``: ``2 -
    High``, group names), database values (``"false"``: ``2``, sys_ids) or ``"all"``
    (read as ``"true"``). ``fields``: the incident fields to ask for (``sysparm_fields``;
    empty: all); ``sys_id``, ``number``, ``sys_updated_on``, ``opened_at`` and
    ``priority`` are always added.
    ``overlap``: seconds before the watermark read again on each pull. ``history``:
    read assignment group changes from ``sys_audit``. The rest are `TableClient`'s.
    """

    instance: str
    user: str = ""
    password: SecretStr | None = field(default=None, repr=False)
    token: SecretStr | None = field(default=None, repr=False)
    page_size: int = 1000
    display_value: str = "true"
    fields: tuple[str, ...] = ()
    overlap: float = 60.0
    history: bool = True
    timeout: float = 60.0
    max_attempts: int = 5
    backoff: float = 1.0
    max_wait: float = 300.0

    def __post_init__(self) -> None:
        if not self.instance:
            raise InvalidSettingsError(
                "no ServiceNow instance: set IMPACTLENS_SERVICENOW_INSTANCE "
                "(such as https://example.service-now.com)"
            )
        if self.display_value not in DISPLAY_VALUES:
            raise InvalidSettingsError(
                f"display_value {self.display_value!r} is not one of {', '.join(DISPLAY_VALUES)}"
            )
        if not 1 <= self.page_size <= 10_000:
            raise InvalidSettingsError(f"page_size {self.page_size} is not from 1 to 10,000")
        if self.overlap < 0:
            raise InvalidSettingsError(f"overlap {self.overlap} s must not be negative")

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> ServiceNowConfig:
        """The ``servicenow_*`` settings as a config; `overrides` replace any field."""
        values: dict[str, Any] = {
            "instance": settings.servicenow_instance,
            "user": settings.servicenow_user,
            "password": settings.servicenow_password,
            "token": settings.servicenow_token,
            "page_size": settings.servicenow_page_size,
            "display_value": settings.servicenow_display_value,
        }
        return cls(**(values | overrides))


def watermark_name(instance: str, table: str = TABLE) -> str:
    """The store's name of the watermark of `table` at `instance`.

    >>> watermark_name("https://example.service-now.com/")
    'incident.sys_updated_on@https://example.service-now.com'
    """
    return f"{table}.sys_updated_on@{instance.rstrip('/')}"


def pull_servicenow(
    store: Store,
    *,
    config: ServiceNowConfig,
    source: str = "servicenow",
    since: datetime | pd.Timestamp | str | None = None,
    now: datetime | pd.Timestamp | None = None,
    sleep: Callable[[float], None] = time.sleep,
    client: httpx.Client | None = None,
) -> IngestReport:
    """Pull the incidents updated since the last pull into `store`; what it did.

    The first pull of an instance (no watermark in the store for `source` and the
    instance) reads the incidents updated since `since` (default: all of them). Each
    pull stores what it read and the new watermark in one transaction: a pull that fails
    or is killed stores nothing and leaves the watermark where it was.

    Parameters
    ----------
    store
        Where the incidents go (under `source`) and the watermark is kept.
    config
        The instance, credentials and paging (`ServiceNowConfig.from_settings`).
    now
        The moment plausibility checks compare with (default: now).
    sleep
        Called with the seconds to wait before each retry (429, 5xx, failed connection).
    client
        The `httpx.Client` to send with; default: one made (and closed) here.

    Returns
    -------
    IngestReport
        As `ingest.pipeline.ingest`'s, with notes saying how many requests and records
        the pull took, the watermark, and whether the assignment history came from
        ``sys_audit``.

    Raises
    ------
    SourceError
        The instance refused the credentials (`ServiceNowAccessError`, one line, no
        credential in it), refused the incident table, or kept failing past the retries.
    """
    moment = utc_moment(now) if now is not None else pd.Timestamp.now(tz="UTC")
    name = watermark_name(config.instance)
    previous = store.get_watermark(source, name)
    start = _start(previous, since, overlap=config.overlap)
    api = TableClient(
        config.instance,
        user=config.user,
        password=config.password,
        token=config.token,
        client=client,
        sleep=sleep,
        timeout=config.timeout,
        max_attempts=config.max_attempts,
        backoff=config.backoff,
        max_wait=config.max_wait,
    )
    try:
        pulled = _Pull(api, config).run(start)
        records = pulled.records()
        raw = records_frame(records)
        batch = reject_implausible(parse_servicenow(raw, source=source), now=moment)
        notes = [pulled.summary(start)]
        if config.history and len(batch.incidents):
            history, said = _audit_history(api, config, records, batch.incidents, source)
            notes.append(said)
            if history is not None:
                batch = replace(batch, history=_with_history(batch.history, history))
        requests = api.requests
    finally:
        api.close()
    mark = pulled.watermark() or previous
    notes[0] += f", {requests:,} requests in all; watermark {mark or 'none yet'}"
    if pulled.uncertain:
        notes.append(
            f"the watermark stays at {min(pulled.uncertain)} UTC: records updated then "
            "changed while the pull paged through them, or were hidden by ACLs, so the "
            "next pull reads from there again"
        )
    report = ingest_batch(
        ReadBatch(batch, len(records)),
        store,
        source_file=f"{config.instance}/api/now/table/{TABLE}",
        format=FORMAT,
        watermark=Watermark(source, name, mark) if mark else None,
    )
    return replace(report, notes=(*notes, *report.notes))


# --- the incident pull ------------------------------------------------------------------


@dataclass
class _Pull:
    """One pull's paging state: the records read (the newest version of each incident)
    and what the watermark may become."""

    api: TableClient
    config: ServiceNowConfig
    pages: int = 0
    read: int = 0
    by_key: dict[str, dict[str, Any]] = field(default_factory=dict)
    latest: str | None = None  # the greatest sys_updated_on read, as ServiceNow writes it
    uncertain: list[str] = field(default_factory=list)
    hidden: bool = False

    def run(self, start: str | None) -> _Pull:
        """Read every record updated at or after `start` (every record, when None)."""
        size = self.config.page_size
        cursor, after = start, False
        while True:
            page = self._page(_incident_query(cursor, after=after), offset=0)
            if not page.records:
                # Records exist but none came back: ServiceNow applies sysparm_limit
                # before ACLs, so the first `size` of them are hidden from this user.
                if page.total:
                    self.hidden = True
                    self.uncertain.append(cursor or "1970-01-01 00:00:00")
                return self
            more = page.total > size if page.total is not None else len(page.records) >= size
            if not more:
                return self
            last = max(_moments(page.records))
            if cursor is None or after or last > cursor:
                cursor, after = last, False  # the next page starts where this one ended
                continue
            # A whole page in one second: page through that second by offset.
            if not self._read_second(cursor):
                self.uncertain.append(cursor)
            after = True

    def _read_second(self, second: str) -> bool:
        """Read every record updated in `second`; whether none can have been skipped."""
        size = self.config.page_size
        query = f"sys_updated_on>={second}^sys_updated_on<={second}^ORDERBYsys_id"
        offset, totals = 0, set()
        while True:
            page = self._page(query, offset=offset)
            totals.add(page.total)
            offset += size
            more = offset < page.total if page.total is not None else len(page.records) >= size
            if not more:
                return None not in totals and len(totals) == 1

    def _page(self, query: str, *, offset: int) -> TablePage:
        fields = self.config.fields
        page = self.api.page(
            TABLE,
            query=query,
            limit=self.config.page_size,
            offset=offset,
            display_value="false" if self.config.display_value == "false" else "all",
            fields=tuple(dict.fromkeys((*fields, *KEY_FIELDS))) if fields else (),
        )
        self.pages += 1
        self.read += len(page.records)
        for record in page.records:
            self._keep(record)
        log.info(
            "ServiceNow %s page %d: %d records (%s, offset %d)",
            self.api.instance, self.pages, len(page.records), query, offset,
        )  # fmt: skip
        return page

    def _keep(self, record: dict[str, Any]) -> None:
        key = raw_value(record, "sys_id") or raw_value(record, "number")
        updated = _moment_of(record)
        if updated is None or key is None:
            what = "no readable sys_updated_on" if updated is None else "neither sys_id nor number"
            raise SourceError(
                f"ServiceNow {self.api.instance}: a record ({key or 'without sys_id'}) has "
                f"{what}, which the pull needs"
            )
        kept = self.by_key.get(key)
        if kept is None or updated >= (_moment_of(kept) or ""):
            self.by_key[key] = record
        if self.latest is None or updated > self.latest:
            self.latest = updated

    def records(self) -> list[dict[str, Any]]:
        """The records read, one per incident (its newest version), in the order read."""
        return list(self.by_key.values())

    def watermark(self) -> str | None:
        """The new watermark (ISO 8601 UTC): the newest ``sys_updated_on`` read, or the
        earliest second that may hold a skipped record; None when nothing was read."""
        value = min(self.uncertain) if self.uncertain else self.latest
        return None if value is None else _iso(value)

    def summary(self, start: str | None) -> str:
        since = f"updated at or after {start} UTC" if start else "all incidents"
        hidden = "; ACLs hid some records from this user" if self.hidden else ""
        return (
            f"pulled {len(self.by_key):,} incidents ({since}; {self.read:,} records in "
            f"{self.pages:,} pages{hidden})"
        )


# --- assignment history from sys_audit --------------------------------------------------


def _audit_history(
    api: TableClient,
    config: ServiceNowConfig,
    records: Sequence[Mapping[str, Any]],
    incidents: pd.DataFrame,
    source: str,
) -> tuple[pd.DataFrame | None, str]:
    """The assignment history of `incidents` from their ``assignment_group`` audits, and
    a note; None (and a note saying so) when the instance refuses ``sys_audit``."""
    numbers = {
        sys_id: number
        for record in records
        if (sys_id := raw_value(record, "sys_id")) and (number := raw_value(record, "number"))
    }
    opened = dict(zip(incidents["incident_id"], incidents["opened_at"], strict=True))
    keys = [sys_id for sys_id, number in numbers.items() if number in opened]
    try:
        audits = _audit_rows(api, config, keys)
    except ServiceNowAccessError as error:
        if error.status != 403:
            raise
        return None, (
            "sys_audit is refused to this user (HTTP 403), so each incident's assignment "
            "history is its current group at opened_at; grant read on sys_audit for the "
            "group changes"
        )
    names, named = _group_names(api, config, records, audits)
    incident_ids, moments, groups = [], [], []
    changes = 0
    for sys_id, entries in _by_incident(audits).items():
        number = numbers[sys_id]
        rows: list[tuple[pd.Timestamp, str]] = []
        first = raw_value(entries[0], "oldvalue")
        if first:  # assigned before the first audited change (inserts are not audited)
            rows.append((opened[number], names.get(first, first)))
        for entry in entries:
            group, at = raw_value(entry, "newvalue"), raw_value(entry, "sys_created_on")
            if not group or not at or not GLIDE_MOMENT.fullmatch(at):
                continue  # unassigned, or no readable moment: no assignment to record
            group = names.get(group, group)
            if rows and rows[-1][1] == group:
                continue
            rows.append((pd.Timestamp(at, tz="UTC"), group))
            changes += 1
        for at_moment, group in rows:
            incident_ids.append(number)
            moments.append(at_moment)
            groups.append(group)
    history = history_frame(incident_ids, moments, groups, source=source)
    told = len(set(incident_ids))
    note = (
        f"assignment history from sys_audit: {changes:,} group changes of {told:,} "
        f"incidents (the others keep their current group at opened_at){named}"
    )
    return history, note


def _audit_rows(
    api: TableClient, config: ServiceNowConfig, keys: Sequence[str]
) -> list[dict[str, Any]]:
    """The ``assignment_group`` audit rows of the incidents `keys` (sys_ids)."""
    rows: list[dict[str, Any]] = []
    size = config.page_size
    for at in range(0, len(keys), AUDIT_BATCH):
        chunk = ",".join(keys[at : at + AUDIT_BATCH])
        query = (
            f"tablename={TABLE}^fieldname=assignment_group^documentkeyIN{chunk}"
            "^ORDERBYsys_created_on"
        )
        offset = 0
        while True:  # audit rows are only ever added, at the end: offsets are stable
            page = api.page(
                "sys_audit", query=query, limit=size, offset=offset, fields=AUDIT_FIELDS
            )
            rows.extend(page.records)
            offset += size
            more = offset < page.total if page.total is not None else len(page.records) >= size
            if not more:
                break
    return rows


def _by_incident(audits: Iterable[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    """Audit rows per incident sys_id, in the order of the changes."""
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for row in audits:
        key = raw_value(row, "documentkey")
        if key:
            grouped.setdefault(key, []).append(row)

    def order(row: Mapping[str, Any]) -> tuple[str, int]:
        checkpoint = raw_value(row, "record_checkpoint") or ""
        return raw_value(row, "sys_created_on") or "", int(
            checkpoint
        ) if checkpoint.isdigit() else 0

    return {key: sorted(rows, key=order) for key, rows in grouped.items()}


def _group_names(
    api: TableClient,
    config: ServiceNowConfig,
    records: Iterable[Mapping[str, Any]],
    audits: Iterable[Mapping[str, Any]],
) -> tuple[dict[str, str], str]:
    """Group names by sys_id (audits hold sys_ids), and a note when some stay sys_ids.

    With display values, the incidents' own groups name most of them; the rest are
    looked up in ``sys_user_group``. With database values (``display_value="false"``)
    the incidents hold sys_ids too, and so does their history.
    """
    if config.display_value == "false":
        return {}, ""
    names: dict[str, str] = {}
    for record in records:
        group = record.get("assignment_group")
        if isinstance(group, Mapping) and group.get("value") and group.get("display_value"):
            names[str(group["value"])] = str(group["display_value"])
    wanted = {
        value
        for row in audits
        for value in (raw_value(row, "newvalue"), raw_value(row, "oldvalue"))
        if value and value not in names
    }
    unknown = sorted(wanted)
    try:
        for at in range(0, len(unknown), AUDIT_BATCH):
            chunk = ",".join(unknown[at : at + AUDIT_BATCH])
            page = api.page(
                "sys_user_group",
                query=f"sys_idIN{chunk}",
                limit=AUDIT_BATCH,
                fields=("sys_id", "name"),
            )
            for group in page.records:
                sys_id, name = raw_value(group, "sys_id"), raw_value(group, "name")
                if sys_id and name:
                    names[sys_id] = name
    except ServiceNowAccessError as error:
        if error.status != 403:
            raise
        return names, (
            f"; sys_user_group is refused to this user (HTTP 403), so {len(unknown):,} "
            "former groups are named by their sys_id"
        )
    return names, ""


def _with_history(parsed: pd.DataFrame, audited: pd.DataFrame) -> pd.DataFrame:
    """The adapter's history with that of every audited incident replaced by its audits."""
    if audited.empty:
        return parsed
    keep = ~parsed["incident_id"].isin(set(audited["incident_id"]))
    return pd.concat([parsed[keep], audited], ignore_index=True)


def raw_value(record: Mapping[str, Any], name: str) -> str | None:
    """A field's database value, whether the record has values or display values too.

    >>> raw_value({"priority": {"display_value": "2 - High", "value": "2"}}, "priority")
    '2'
    >>> raw_value({"number": "INC1"}, "number"), raw_value({"number": ""}, "number")
    ('INC1', None)
    """
    value = record.get(name)
    if isinstance(value, Mapping):
        value = value.get("value")
    return value if isinstance(value, str) and value else None


def _moment_of(record: Mapping[str, Any]) -> str | None:
    value = raw_value(record, "sys_updated_on")
    return value if value is not None and GLIDE_MOMENT.fullmatch(value) else None


def _moments(records: Iterable[Mapping[str, Any]]) -> list[str]:
    return [m for m in (_moment_of(r) for r in records) if m is not None]


def _incident_query(cursor: str | None, *, after: bool) -> str:
    order = "ORDERBYsys_updated_on^ORDERBYsys_id"
    if cursor is None:
        return order
    return f"sys_updated_on{'>' if after else '>='}{cursor}^{order}"


def _start(previous: str | None, since: Any, *, overlap: float) -> str | None:
    """Where this pull starts, as ServiceNow writes a UTC moment; None: from the start."""
    if previous is not None:
        return _glide(utc_moment(previous) - timedelta(seconds=overlap))
    if since is not None:
        return _glide(utc_moment(since))
    return None


def _glide(moment: pd.Timestamp) -> str:
    return moment.tz_convert("UTC").strftime("%Y-%m-%d %H:%M:%S")


def _iso(glide: str) -> str:
    return f"{glide[:10]}T{glide[11:]}Z"
