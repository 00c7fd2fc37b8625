"""The map quality report on small hand-built maps."""

from __future__ import annotations

from impactlens.service_map.build import build_service_map
from impactlens.service_map.graph import impact_graph
from impactlens.service_map.quality import quality_report


def report_for(records):
    service_map = build_service_map(records)
    return quality_report(service_map, impact_graph(service_map))


def test_cycles_orphans_unserved_processes_and_one_member_groups():
    report = report_for(
        {
            "version": 1,
            "business_processes": [
                {"id": "sales", "criticality": 1},
                {"id": "hr", "criticality": 3},
            ],
            "services": [
                {"id": "web"},
                {"id": "api"},
                {"id": "cache"},
                {"id": "batch"},
                {"id": "db-a"},
                {"id": "db", "kind": "redundancy_group", "members": ["db-a"], "min_up": 1},
            ],
            "dependencies": [
                {"from": "web", "to": "api"},
                {"from": "api", "to": "cache"},
                {"from": "cache", "to": "api", "weight": 0.5},
                {"from": "api", "to": "db"},
            ],
            "supports": [{"service": "web", "process": "sales"}],
        }
    )
    # impact flows provider -> consumer: api -> cache -> api is the one cycle
    assert report.cycles == (("api", "cache"),)
    assert report.services_serving_no_process == ("batch",)
    assert report.processes_served_by_no_service == ("hr",)
    assert report.one_member_groups == ("db",)
    assert (report.services, report.redundancy_groups, report.processes) == (5, 1, 2)
    assert report.findings == [
        "dependency cycle (handled as one unit, but check it is real): api -> cache -> api",
        "1 service serves no business process: batch",
        "1 business process is served by no service: hr",
        "redundancy group db has a single member, so it gives no redundancy",
    ]


def test_a_redundant_member_serves_its_groups_processes():
    report = report_for(
        {
            "version": 1,
            "business_processes": [{"id": "sales", "criticality": 1}],
            "services": [
                {"id": "web"},
                {"id": "db-a"},
                {"id": "db-b"},
                {"id": "db", "kind": "redundancy_group", "members": ["db-a", "db-b"], "min_up": 1},
            ],
            "dependencies": [{"from": "web", "to": "db"}],
            "supports": [{"service": "web", "process": "sales"}],
        }
    )
    assert report.services_serving_no_process == ()
    assert report.findings == []
