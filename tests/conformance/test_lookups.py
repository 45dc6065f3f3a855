"""The lookups a dashboard and a report need, on every engine: the tenants of the `tenants`
table by name, and the outlets with conversations started in a range (ids in any case, other
tenants' rows and rows outside the range left out)."""

from __future__ import annotations

from typing import Any

from crm_metrics import StoredTenant, request

from tests.support.engines import Engine

A, B = "00000000-0000-0000-0000-00000000000a", "00000000-0000-0000-0000-00000000000b"
OUTLET_1, OUTLET_2, OUTLET_3 = (f"{n}1111111-1111-1111-1111-11111111111{n}" for n in (1, 2, 3))


def _conversation(n: int, tenant: str, outlet: str | None, started: str) -> dict[str, Any]:
    return {
        "id": f"c{n}", "tenant_id": tenant, "outlet_id": outlet, "customer_phone": "+1", "status": "active",
        "started_at": started, "ended_at": None, "last_message_at": None,
    }


ROWS = {
    "tenants": [
        {"id": B.upper(), "name": "Zebra Dental", "timezone": None},
        {"id": A, "name": "Acme Corp", "timezone": "Asia/Jakarta"},
    ],
    "conversations": [
        _conversation(1, A, OUTLET_2, "2025-11-01T02:00:00Z"),
        _conversation(2, A, OUTLET_1, "2025-11-02T02:00:00Z"),
        _conversation(3, A, OUTLET_2, "2025-11-02T03:00:00Z"),
        _conversation(4, A, None, "2025-11-02T04:00:00Z"),
        # Outside the range (2025-10-31 in Jakarta ends at 17:00 UTC), and another tenant's.
        _conversation(5, A, OUTLET_3, "2025-10-31T16:59:59Z"),
        _conversation(6, B, OUTLET_3, "2025-11-02T02:00:00Z"),
    ],
}


def test_tenants_by_name(engine: Engine) -> None:
    metrics = engine.fresh(ROWS)
    assert metrics.list_tenants() == [StoredTenant(A, "Acme Corp", "Asia/Jakarta"), StoredTenant(B, "Zebra Dental", None)]


def test_outlets_in_range(engine: Engine) -> None:
    metrics = engine.fresh(ROWS)
    outlets = metrics.outlet_ids(request.query(A, "2025-11-01", "2025-11-03"))
    assert outlets.outlet_ids == [OUTLET_1, OUTLET_2]
    assert (outlets.timezone, str(outlets.period_start), str(outlets.period_end)) == ("Asia/Jakarta", "2025-11-01", "2025-11-03")
    assert metrics.outlet_ids(request.query(A, "2025-10-31", "2025-10-31", tz="UTC")).outlet_ids == [OUTLET_3]
    assert metrics.outlet_ids(request.query(B, "2025-11-01", "2025-11-03")).outlet_ids == [OUTLET_3]
