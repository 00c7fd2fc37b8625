"""Validation of service-map records: every error at once, each with its place."""

from __future__ import annotations

import copy

import pytest
from impactlens.service_map.build import build_service_map
from impactlens.service_map.load import load_service_map

from impactlens.errors import MapValidationError, UnknownProcessError, UnknownServiceError

VALID = {
    "version": 1,
    "scoring": {"priority_weights": {2: 0.5}},
    "business_processes": [
        {
            "id": "order-to-cash",
            "name": "Order to cash",
            "criticality": 1,
            "value_per_hour": 6000,
            "hours": "24x7",
            "timezone": "UTC",
        },
        {
            "id": "payroll",
            "criticality": 3,
            "value_per_hour": 200,
            "hours": "mon-fri 09:00-17:00",
            "timezone": "Europe/Berlin",
        },
    ],
    "services": [
        {"id": "web", "name": "Web shop"},
        {
            "id": "pay-api",
            "aliases": ["PAYAPI01", "payments-api-prod"],
            "match": {"category": ["Payments"]},
            "support_tiers": {"Service Desk": "L1", "Payments Ops": "L2", "Payments Dev": 3},
        },
        {"id": "hr-app"},
        {"id": "db-a"},
        {"id": "db-b"},
        {"id": "db-cluster", "kind": "redundancy_group", "members": ["db-a", "db-b"], "min_up": 1},
    ],
    "dependencies": [
        {"from": "web", "to": "pay-api"},
        {"from": "hr-app", "to": "pay-api", "weight": 0.4},
        {"from": "pay-api", "to": "db-cluster"},
    ],
    "supports": [
        {"service": "web", "process": "order-to-cash"},
        {"service": "hr-app", "process": "payroll", "weight": 0.5},
    ],
}


def records(**changes):
    result = copy.deepcopy(VALID)
    result.update(changes)
    return result


def errors_of(value) -> list[str]:
    with pytest.raises(MapValidationError) as caught:
        build_service_map(value)
    return [str(issue) for issue in caught.value.issues]


def test_a_valid_map_builds_with_defaults_filled_in():
    service_map = build_service_map(records())
    assert [p.id for p in service_map.processes] == ["order-to-cash", "payroll"]
    # a partial override keeps the other defaults
    assert dict(service_map.scoring.priority_weights) == {1: 1.0, 2: 0.5, 3: 0.3, 4: 0.1, 5: 0.0}
    assert service_map.scoring.tier_weights[4] == 0.05
    pay = service_map.service("pay-api")
    assert pay.aliases == ("PAYAPI01", "payments-api-prod")
    assert dict(pay.match) == {"category": ("Payments",)}
    assert dict(pay.support_tiers) == {
        "Service Desk": "L1",
        "Payments Ops": "L2",
        "Payments Dev": "L3",
    }
    group = service_map.service("db-cluster")
    assert (group.kind, group.members, group.min_up) == ("redundancy_group", ("db-a", "db-b"), 1)
    assert service_map.dependencies[1].consumer == "hr-app"
    assert service_map.dependencies[1].provider == "pay-api"
    assert service_map.dependencies[1].weight == 0.4
    assert service_map.service("web").name == "Web shop"
    assert service_map.service("hr-app").name == "hr-app"


def test_duplicate_alias_is_reported_with_both_places():
    services = copy.deepcopy(VALID["services"])
    services[3]["aliases"] = ["db-a-prod", "payapi01"]
    assert errors_of(records(services=services)) == [
        'services[3].aliases[1]: alias "payapi01" is already claimed by services[1] (pay-api)'
    ]


def test_an_alias_equal_to_another_services_id_is_a_duplicate():
    services = copy.deepcopy(VALID["services"])
    services[2]["aliases"] = ["WEB"]
    assert errors_of(records(services=services)) == [
        'services[2].aliases[0]: alias "WEB" is already claimed by services[0] (web)'
    ]


def test_every_error_is_reported_at_once():
    broken = records(
        version=2,
        business_processes=[
            {"id": "Order To Cash", "criticality": 1},
            {
                "id": "payroll",
                "criticality": 7,
                "value_per_hour": -5,
                "hours": "mon-fry 09:00-17:00",
                "timezone": "Europe/Berlin",
            },
        ],
        dependencies=[
            {"from": "web", "to": "pay-apii"},
            {"from": "web", "to": "web"},
            {"from": "hr-app", "to": "pay-api", "weight": 1.5},
            {"from": "web", "to": "payroll"},
        ],
        supports=[{"service": "web", "process": "order-to-kash"}],
    )
    found = errors_of(broken)
    assert found[0] == "version: 2 is not supported (expected 1)"
    assert found[1].startswith("business_processes[0].id: 'Order To Cash' is not a valid id")
    assert "business_processes[1].criticality: 7 is outside 1..4" in found
    assert "business_processes[1].value_per_hour: -5 is outside [0, inf)" in found
    assert any(e.startswith("business_processes[1].hours: ") and "fry" in e for e in found)
    assert "dependencies[0].to: unknown service 'pay-apii'" in found
    assert "dependencies[1]: 'web' cannot depend on itself" in found
    assert "dependencies[2].weight: 1.5 is outside (0, 1]" in found
    assert (
        "dependencies[3].to: unknown service 'payroll' (that is a business process; use supports)"
    ) in found
    assert "supports[0].process: unknown business process 'order-to-kash'" in found
    assert len(found) == 10


def test_redundancy_group_rules():
    services = copy.deepcopy(VALID["services"])
    services[5]["min_up"] = 3
    services.append(
        {"id": "lonely", "kind": "redundancy_group", "members": ["ghost", "web", "web"]}
    )
    services.append({"id": "plain", "members": ["web"], "min_up": 1})
    services.append(
        {"id": "selfish", "kind": "redundancy_group", "members": ["selfish"], "min_up": 1}
    )
    assert errors_of(records(services=services)) == [
        "services[5].min_up: 3 is more than the group's 2 members: the group could never be up",
        "services[6].min_up: missing (how many members must be up)",
        "services[7].members: only a service of kind redundancy_group has members and min_up",
        "services[7].min_up: only a service of kind redundancy_group has members and min_up",
        "services[6].members[0]: unknown service 'ghost'",
        "services[6].members[2]: 'web' is listed twice",
        "services[8].members[0]: a redundancy group cannot be its own member",
    ]


def test_shapes_and_unknown_keys():
    found = errors_of(
        {
            "version": 1,
            "business_processes": {"id": "x"},
            "services": [
                {"id": "web", "kind": "cluster"},
                "db",
                {"id": "a", "aliasses": ["A"]},
                {"id": "b", "match": {"priority": ["1"]}, "support_tiers": {"X": "L4"}},
            ],
            "supports": [{"service": "web"}],
            "extra": True,
        }
    )
    assert found == [
        "(top level).extra: unknown key (expected one of: business_processes, dependencies, "
        "scoring, services, supports, version)",
        "business_processes: must be a list, got dict {'id': 'x'}",
        "services[0].kind: 'cluster' is not one of: service, redundancy_group",
        "services[1]: must be a mapping, got the string 'db'",
        "services[2].aliasses: unknown key (expected one of: aliases, id, kind, match, members, "
        "min_up, name, support_tiers)",
        "services[3].match.priority: cannot match on 'priority' (use one of: category, "
        "subcategory, assignment_group, location, service_component)",
        "services[3].support_tiers.X: 'L4' is not a support tier (L1, L2 or L3)",
        "supports[0].process: missing",
    ]


def test_ids_are_unique_across_services_and_processes():
    services = [*copy.deepcopy(VALID["services"]), {"id": "payroll"}, {"id": "web"}]
    found = errors_of(records(services=services))
    assert found == [
        "services[6].id: 'payroll' is already used by business_processes[1]",
        "services[7].id: 'web' is already used by services[0]",
    ]


def test_repeated_edges_are_errors():
    found = errors_of(
        records(
            dependencies=[
                {"from": "web", "to": "pay-api"},
                {"from": "web", "to": "pay-api", "weight": 0.5},
            ],
            supports=[
                {"service": "web", "process": "payroll"},
                {"service": "web", "process": "payroll"},
            ],
        )
    )
    assert found == [
        "dependencies[1]: repeats dependencies[0] (web -> pay-api)",
        "supports[1]: repeats supports[0] (web -> payroll)",
    ]


def test_not_a_mapping_at_all():
    assert errors_of(["services"]) == ["(top level): must be a mapping, got list ['services']"]
    assert errors_of({}) == [
        "version: missing (expected 1)",
        "business_processes: missing (a map needs at least one business process)",
        "services: missing (a map needs at least one service)",
    ]


def test_load_reports_yaml_syntax_errors_with_line(tmp_path):
    path = tmp_path / "map.yaml"
    path.write_text("version: 1\nservices:\n  - id: web\n    name: [unclosed\n")
    with pytest.raises(MapValidationError) as caught:
        load_service_map(path)
    issue = caught.value.issues[0]
    assert issue.place.startswith("line ")
    assert "not valid YAML" in issue.message
    assert str(path) in str(caught.value)


def test_bundled_fixture_map_is_valid():
    service_map = load_service_map("fixtures/service_map.yaml")
    groups = [s for s in service_map.services if s.kind == "redundancy_group"]
    assert len(groups) >= 2
    assert 30 <= len(service_map.services) - len(groups) <= 60
    assert 6 <= len(service_map.processes) <= 10
    assert any(d.weight < 1 for d in service_map.dependencies)
    assert len({(p.hours, p.timezone) for p in service_map.processes}) >= 3


# --- hostile values: every problem an issue, every echo short ---------------------------


def test_hours_and_time_zone_are_each_reported_at_their_place():
    processes = copy.deepcopy(VALID["business_processes"])
    processes[1].update(hours="mon-fry 09:00-17:00", timezone="Europe/Lndon")
    errors = errors_of(records(business_processes=processes))
    assert errors[0].startswith("business_processes[1].hours: 'mon-fry 09:00-17:00': unknown day")
    assert errors[1].startswith(
        "business_processes[1].timezone: time zone 'Europe/Lndon' is not an IANA zone name "
        "(did you mean Europe/London"
    )


def test_lists_and_mappings_where_ids_belong_are_issues_not_crashes():
    errors = errors_of(
        records(
            dependencies=[{"from": ["web"], "to": {"a": 1}}],
            supports=[{"service": "web", "process": ["order-to-cash"]}],
        )
    )
    assert errors == [
        "dependencies[0].from: unknown service ['web']",
        "dependencies[0].to: unknown service {'a': 1}",
        "supports[0].process: unknown business process ['order-to-cash']",
    ]


@pytest.mark.parametrize(
    ("weight", "message"),
    [
        (float("nan"), "must be a finite number, got nan"),
        (float("inf"), "must be a finite number, got inf"),
        (10**400, "a whole number of 1,329 bits is too large"),
    ],
)
def test_numbers_that_would_poison_scores_are_refused(weight, message):
    supports = [{"service": "web", "process": "order-to-cash", "weight": weight}]
    assert errors_of(records(supports=supports)) == [f"supports[0].weight: {message}"]


def test_huge_keys_and_values_are_echoed_as_short_excerpts():
    huge = "x" * 1_000_000
    services = [{"id": "web", huge: 1, "kind": huge}, {"id": "pay-api"}, {"id": "hr-app"},
                {"id": "db-a"}, {"id": "db-b"}, {"id": "db-cluster", "kind": "redundancy_group",
                 "members": ["db-a", "db-b"], "min_up": 1}]  # fmt: skip
    with pytest.raises(MapValidationError) as caught:
        build_service_map(records(services=services, version=huge))
    message = str(caught.value)
    assert len(message) < 1_000
    assert f"services[0].{'x' * 40}… (1,000,000 characters): unknown key" in message
    assert f"version: '{'x' * 80}…' (1,000,000 characters) is not supported" in message


def test_looking_up_an_unknown_id_is_an_impactlens_error():
    service_map = build_service_map(records())
    with pytest.raises(
        UnknownServiceError, match=r"unknown service 'pay-ap' \(did you mean pay-api"
    ):
        service_map.service("pay-ap")
    with pytest.raises(UnknownProcessError, match=r"unknown business process 'payrol'.*payroll"):
        service_map.process("payrol")


def test_a_match_rule_may_name_the_service_component():
    from impactlens.engine.resolution import resolve_services
    from impactlens.ingest.batch import empty_batch

    changed = copy.deepcopy(VALID)
    changed["services"][2]["match"] = {"service_component": ["WBS000162", "WBS000091"]}
    service_map = build_service_map(changed)
    incidents = (
        empty_batch()
        .incidents.reindex(range(3))
        .assign(
            source="bank",
            incident_id=["IM1", "IM2", "IM3"],
            service_component=["wbs000162", "WBS000263", None],
        )
    )

    resolved = resolve_services(incidents, service_map)

    assert service_map.service("hr-app").match == {"service_component": ("WBS000162", "WBS000091")}
    assert resolved["service_id"].fillna("-").tolist() == ["hr-app", "-", "-"]
    assert resolved["mapped_by"].fillna("-").tolist() == ["match", "-", "-"]
