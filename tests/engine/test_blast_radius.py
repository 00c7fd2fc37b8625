"""Blast radius (engine/blast_radius.py) on the base map of tests/conftest.py."""

from __future__ import annotations

import pytest
from impactlens.engine.blast_radius import blast_radius
from impactlens.engine.impact import build_impact_model

from impactlens.errors import InvalidSettingsError, UnknownServiceError


def test_by_id_alias_or_ci_name_any_case(make_map):
    model = build_impact_model(make_map())
    # pay-api -> web -> order-to-cash (1.0, 6000/h); pay-api -0.4-> hr-app -0.5-> payroll
    # (0.2, 1200/h: 240 an hour at risk)
    for name in ("pay-api", "PAYAPI01", "Payments-API-Prod"):
        service, table = blast_radius(model, name)
        assert service == "pay-api"
        assert table[["process_id", "exposure", "value_per_hour_at_risk"]].values.tolist() == [
            ["order-to-cash", 1.0, 6000.0],
            ["payroll", pytest.approx(0.2), pytest.approx(240.0)],
        ]
        assert table["path"].tolist() == [
            "pay-api -> web -> order-to-cash",
            "pay-api -> hr-app (x0.4) -> payroll (x0.5)",
        ]


def test_unknown_names_and_processes_are_refused(make_map):
    model = build_impact_model(make_map())
    with pytest.raises(UnknownServiceError, match="unknown service 'pay-apii' \\(did you mean"):
        blast_radius(model, "pay-apii")
    with pytest.raises(InvalidSettingsError, match="'payroll' is a business process"):
        blast_radius(model, "payroll")
