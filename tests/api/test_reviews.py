"""``/v1/hotspots``, ``/v1/hotspots/{key}``, ``/v1/kpis`` and ``/v1/reports/{week}``.

Each answer is checked against the library's review of the same store
(`impactlens.analysis.review`, what every surface serves) and, where a number can be
counted another way, against a direct count of the week's stored incidents. Tests that
only read share one service (`shared`), so the week is reviewed once per module.
"""

from __future__ import annotations

from urllib.parse import quote

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from impactlens.engine.facts import incident_facts
from impactlens.engine.impact import ImpactModel, build_impact_model
from impactlens.engine.weekly import WeeklyReview
from impactlens.reports import render, render_files
from impactlens.service_map.load import load_service_map
from test_operations import Shared, assert_problem, shared_service

from conftest import AS_OF, AS_OF_TEXT, MAP, WEEK, bearer
from impactlens.analysis import review
from impactlens.jsonable import json_records

shared_fixture = pytest.fixture(scope="module", name="shared")(shared_service)

WEEK_START = pd.Timestamp("2026-11-16", tz="UTC")
WEEK_END = pd.Timestamp("2026-11-23", tz="UTC")
Q = f"week={WEEK}&as_of={AS_OF_TEXT}"


@pytest.fixture(scope="module")
def model() -> ImpactModel:
    return build_impact_model(load_service_map(MAP))


@pytest.fixture(scope="module")
def reviewed(shared: Shared, model: ImpactModel) -> WeeklyReview:
    """The library's review of the week, of the same store, with the same settings."""
    settings = shared.settings.review_settings()
    return review(model, settings=settings, as_of=AS_OF, week=WEEK, store=shared.store)


@pytest.fixture(scope="module")
def week_facts(shared: Shared, model: ImpactModel) -> pd.DataFrame:
    """The facts of the incidents opened in the week, read and derived directly."""
    stored = shared.store.load_week(since=WEEK_START, until=WEEK_END)
    facts = incident_facts(stored.incidents, stored.history, model, as_of=AS_OF).incidents
    opened = pd.to_datetime(facts["opened_at"], utc=True)
    return facts[(opened >= WEEK_START) & (opened < WEEK_END)]


def _default_key(facts: pd.DataFrame) -> pd.Series:
    """service, else CI, else category, else (none): the default hotspot key."""
    key = facts["service_id"].astype("string")
    for column in ("ci", "category"):
        key = key.fillna(facts[column].astype("string"))
    return key.fillna("(none)")


# --- GET /v1/hotspots ---------------------------------------------------------------------


def test_hotspots_are_the_reviews(
    shared: Shared, reviewed: WeeklyReview, week_facts: pd.DataFrame
) -> None:
    response = shared.read(f"/v1/hotspots?{Q}&limit=1000")
    assert response.status_code == 200
    body = response.json()
    assert body["week"] == WEEK
    assert body["as_of"] == "2026-11-23T00:00:00+00:00"
    assert body["map_version"] == reviewed.map_version
    assert body["hotspots"] == json_records(reviewed.hotspots)
    assert body["notes"] == list(reviewed.notes)
    assert [row["rank"] for row in body["hotspots"]] == list(range(1, len(body["hotspots"]) + 1))
    # Counted directly: the week's incidents and escalations per key.
    keyed = week_facts.assign(key=_default_key(week_facts))
    incidents = keyed.groupby("key").size()
    escalated = keyed.groupby("key")["escalated"].sum()
    assert body["hotspots"]
    for row in body["hotspots"]:
        assert row["incidents"] == incidents[row["key"]], row["key"]
        assert row["escalated"] == escalated[row["key"]], row["key"]


def test_hotspots_by_default_review_the_last_full_week(shared: Shared) -> None:
    assert shared.read(f"/v1/hotspots?as_of={AS_OF_TEXT}&limit=1").json()["week"] == WEEK
    later = shared.read("/v1/hotspots?as_of=2026-11-28T12:00:00Z&limit=1")
    assert later.json()["week"] == WEEK


def test_a_week_written_without_its_dash_is_answered_as_the_same_week(shared: Shared) -> None:
    dashed = shared.read(f"/v1/hotspots?{Q}").json()
    plain = shared.read(f"/v1/hotspots?week=2026W47&as_of={AS_OF_TEXT}").json()
    assert plain == dashed
    assert plain["week"] == "2026-W47"


def test_hotspots_limit_keeps_the_top_ranks(shared: Shared) -> None:
    body = shared.read(f"/v1/hotspots?{Q}&limit=3").json()
    assert [row["rank"] for row in body["hotspots"]] == [1, 2, 3]


@pytest.mark.parametrize(
    ("sort", "column"),
    [
        ("escalated", "escalated"),
        ("incidents", "incidents"),
        ("impact", "impact_score"),
        ("repeat_impact", "repeat_impact"),
        ("repeats", "repeats"),
        ("reached_l3", "reached_l3"),
    ],
)
def test_hotspots_sorted(shared: Shared, sort: str, column: str) -> None:
    rows = shared.read(f"/v1/hotspots?{Q}&sort={sort}&limit=1000").json()["hotspots"]
    ordered = sorted(rows, key=lambda row: (-row[column], row["rank"]))
    assert rows == ordered
    assert len({row[column] for row in rows}) > 1  # the order was not there by chance
    ranked = shared.read(f"/v1/hotspots?{Q}&limit=1000").json()["hotspots"]
    assert rows != ranked and sorted(rows, key=lambda row: row["rank"]) == ranked


def test_hotspots_grouped_by_other_fields(shared: Shared, week_facts: pd.DataFrame) -> None:
    response = shared.read(f"/v1/hotspots?{Q}&group_by=category,%20subcategory&limit=1000")
    assert response.status_code == 200
    rows = response.json()["hotspots"]
    category = week_facts["category"].astype("string").fillna("(none)")
    subcategory = week_facts["subcategory"].astype("string").fillna("(none)")
    counted = (category + " / " + subcategory).value_counts()
    assert rows and all(" / " in row["key"] for row in rows)
    for row in rows:
        assert row["incidents"] == counted[row["key"]], row["key"]


@pytest.mark.parametrize(
    ("query", "status", "detail"),
    [
        (f"week=2026-W99&as_of={AS_OF_TEXT}", 400, "2026-W99"),
        (f"week=2026-W53&as_of={AS_OF_TEXT}", 400, "after as_of"),
        (f"week=last&as_of={AS_OF_TEXT}", 422, "query.week"),
        (f"{Q}&sort=worst", 422, "query.sort"),
        (f"{Q}&limit=0", 422, "query.limit"),
        (f"{Q}&limit=1001", 422, "query.limit"),
        (f"{Q}&group_by=colour", 400, "colour"),
        ("week=2026-W47&as_of=the-day-after", 422, "query.as_of"),
        ("as_of=0001-01-01T00:00:00Z", 422, "query.as_of"),
        ("as_of=9999-12-31T00:00:00Z", 422, "query.as_of"),
    ],
)
def test_hotspots_bad_query(shared: Shared, query: str, status: int, detail: str) -> None:
    assert_problem(shared.read(f"/v1/hotspots?{query}"), status, detail)


# --- GET /v1/hotspots/{key} ------------------------------------------------------------------


def test_hotspot_close_up(shared: Shared, reviewed: WeeklyReview, week_facts: pd.DataFrame) -> None:
    top = reviewed.hotspots.iloc[0]
    response = shared.read(f"/v1/hotspots/{quote(str(top['key']))}?{Q}")
    assert response.status_code == 200
    body = response.json()
    assert body["week"] == WEEK and body["key"] == top["key"]
    assert body["hotspot"] == json_records(reviewed.hotspots.head(1))[0]
    mine = week_facts[_default_key(week_facts) == top["key"]]
    assert sorted(i["incident_id"] for i in body["incidents"]) == sorted(mine["incident_id"])
    scores = [i["impact_score"] for i in body["incidents"]]
    assert scores == sorted(scores, reverse=True)
    trend = body["trend"]
    assert len(trend) == len(reviewed.window.hotspot_bounds) - 1
    assert trend[-1]["incidents"] == len(mine)
    assert trend[-1]["escalated"] == int(mine["escalated"].sum())
    # What it cost each process adds up to what its incidents cost.
    hurt = sum(process["impact_minutes"] for process in body["processes"])
    assert hurt == pytest.approx(float(mine["impact_minutes"].sum()))
    for handoff in body["handoffs"]:
        assert handoff["from_group"] != handoff["to_group"]


def test_hotspot_with_a_key_of_several_fields(shared: Shared) -> None:
    grouped = f"{Q}&group_by=category,subcategory"
    rows = shared.read(f"/v1/hotspots?{grouped}&limit=1").json()["hotspots"]
    key = rows[0]["key"]
    assert " / " in key
    response = shared.read(f"/v1/hotspots/{quote(key, safe='')}?{grouped}")
    assert response.status_code == 200, response.text
    assert response.json()["key"] == key
    assert len(response.json()["incidents"]) == rows[0]["incidents"]


def test_unknown_hotspot_is_404(shared: Shared) -> None:
    assert_problem(shared.read(f"/v1/hotspots/no-such-service?{Q}"), 404, "no-such-service")


def test_hotspot_bad_week(shared: Shared) -> None:
    response = shared.read(f"/v1/hotspots/web-shop?week=2026-W99&as_of={AS_OF_TEXT}")
    assert_problem(response, 400, "2026-W99")


# --- GET /v1/kpis ---------------------------------------------------------------------------


def test_kpis_are_the_reviews(shared: Shared, reviewed: WeeklyReview) -> None:
    response = shared.read(f"/v1/kpis?{Q}")
    assert response.status_code == 200
    body = response.json()
    assert (body["week"], body["map_version"]) == (WEEK, reviewed.map_version)
    assert body["kpis"] == json_records(reviewed.kpis)
    kpis = {(row["kpi"], row["subject"]): row for row in body["kpis"]}
    week = shared.store.load_incidents(since=WEEK_START, until=WEEK_END)
    before = shared.store.load_incidents(since=WEEK_START - pd.Timedelta(days=7), until=WEEK_START)
    assert kpis[("incidents", "all")]["value"] == len(week)
    assert kpis[("incidents", "all")]["previous"] == len(before)
    assert len(kpis[("incidents", "all")]["trend"]) == 8


def test_kpis_see_an_incident_pushed_after_they_were_read(
    client: TestClient, keys: dict[str, str]
) -> None:
    """The review cache keys on the store's revision: a push is never hidden by it."""

    def incidents() -> float:
        rows = client.get(f"/v1/kpis?{Q}", headers=bearer(keys["read"])).json()["kpis"]
        return next(row["value"] for row in rows if row["kpi"] == "incidents")

    first = incidents()
    assert incidents() == first
    record = {"incident_id": "NEW-1", "opened_at": "2026-11-18T09:00:00Z", "priority": 3}
    pushed = client.post(
        "/v1/incidents",
        json={"source": "itsm", "incidents": [record]},
        headers=bearer(keys["ingest"]),
    )
    assert pushed.json()["new"] == 1
    assert incidents() == first + 1


@pytest.mark.parametrize(("week", "status"), [("2026-W60", 400), ("47", 422), ("2026-47", 422)])
def test_kpis_bad_week(shared: Shared, week: str, status: int) -> None:
    assert_problem(shared.read(f"/v1/kpis?week={week}&as_of={AS_OF_TEXT}"), status)


# --- GET /v1/reports/{week} ----------------------------------------------------------------


def test_report_in_each_format_is_the_rendered_review(
    shared: Shared, reviewed: WeeklyReview
) -> None:
    url = f"/v1/reports/{WEEK}?as_of={AS_OF_TEXT}"
    media = {"html": "text/html", "md": "text/markdown", "json": "application/json"}
    for fmt, media_type in media.items():
        response = shared.read(f"{url}&format={fmt}")
        assert response.status_code == 200, fmt
        assert response.headers["content-type"].startswith(media_type), fmt
        assert response.text == render(reviewed, fmt), fmt
    files = render_files(reviewed, "csv")
    csv = shared.read(f"{url}&format=csv")
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text == files["kpis.csv"]
    assert shared.read(f"{url}&format=csv&table=hotspots").text == files["hotspots.csv"]


@pytest.fixture
def rendered_as(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rendering replaced by the format's name: the choice of format, without the cost of
    rendering (`test_report_in_each_format_is_the_rendered_review` checks the texts)."""
    monkeypatch.setattr("impactlens.api.routes.reviews.render", lambda review, fmt: f"[{fmt}]")
    monkeypatch.setattr(
        "impactlens.api.routes.reviews.render_files",
        lambda review, fmt: {"kpis.csv": "[csv]", "hotspots.csv": "[csv hotspots]"},
    )


@pytest.mark.usefixtures("rendered_as")
def test_report_format_by_accept_or_query(shared: Shared) -> None:
    url = f"/v1/reports/{WEEK}?as_of={AS_OF_TEXT}"
    cases = [
        ("", "html", "text/html"),
        ("*/*", "html", "text/html"),
        ("text/*", "html", "text/html"),
        ("application/*", "json", "application/json"),
        ("text/html", "html", "text/html"),
        ("TEXT/MARKDOWN", "md", "text/markdown"),
        ("application/json", "json", "application/json"),
        ("text/csv", "csv", "text/csv"),
        ("text/markdown;q=0.5, application/json", "json", "application/json"),
        ("text/markdown;q=0.9, application/json;q=0.8", "md", "text/markdown"),
        ("text/html;q=0, text/markdown;q=0.1", "md", "text/markdown"),
        ("image/png, text/csv;q=0.2", "csv", "text/csv"),
        ("text/markdown;q=oops, application/json;q=0.1", "json", "application/json"),
    ]
    for accept, fmt, media in cases:
        response = shared.client.get(url, headers={**bearer(shared.keys["read"]), "accept": accept})
        assert response.status_code == 200, accept
        assert response.text == f"[{fmt}]", accept
        assert response.headers["content-type"].startswith(media), accept
    # ?format= wins over Accept.
    response = shared.client.get(
        f"{url}&format=md", headers={**bearer(shared.keys["read"]), "accept": "application/json"}
    )
    assert response.text == "[md]"


@pytest.mark.usefixtures("rendered_as")
def test_report_in_a_format_not_offered_is_406(shared: Shared) -> None:
    url = f"/v1/reports/{WEEK}?as_of={AS_OF_TEXT}"
    for accept in ("image/png", "text/html;q=0", "application/pdf, image/*"):
        response = shared.client.get(url, headers={**bearer(shared.keys["read"]), "accept": accept})
        assert_problem(response, 406, "text/html")


@pytest.mark.parametrize(
    ("path", "status", "detail"),
    [
        (f"/v1/reports/{WEEK}?format=pdf", 422, "query.format"),
        (f"/v1/reports/{WEEK}?format=csv&table=secrets", 404, "secrets"),
        ("/v1/reports/last-week?format=md", 422, "path.week"),
        ("/v1/reports/2026-W99?format=md", 400, "2026-W99"),
    ],
)
def test_report_bad_request(shared: Shared, path: str, status: int, detail: str) -> None:
    assert_problem(shared.read(f"{path}&as_of={AS_OF_TEXT}"), status, detail)
