"""Usage pages: the SVG charts, and the seam to oemhost.usage (its contract, as the panels
call it, in webui/reseller/usage_source.py)."""

from __future__ import annotations

import sys
import types
from datetime import UTC, datetime, timedelta

from webui.charts import line_chart


def test_line_chart_draws_points_and_escapes_text():
    t0 = datetime(2026, 11, 24, tzinfo=UTC)
    svg = line_chart([(t0 + timedelta(minutes=5 * i), float(i * i)) for i in range(10)],
                     title="<disk>", unit="MB")
    assert svg.startswith("<svg") and "<polyline" in svg and "&lt;disk&gt;" in svg
    assert svg.count(",") >= 10
    assert "no data" in line_chart([], title="empty")


def _usage_module():
    """What oemhost.usage must provide (see usage_source.py); served from fixed samples."""
    mod = types.ModuleType("oemhost.usage")
    t0 = datetime(2026, 11, 24, tzinfo=UTC)
    calls = []

    def node_now(session, node):
        calls.append(("now", node))
        return {"at": t0, "disk_used_mb": 51200.0, "disk_total_mb": 102400.0,
                "mem_used_mb": 3072.0, "mem_total_mb": 8192.0, "net_rx_bps": 2.5e6,
                "net_tx_bps": 1.25e6}

    def node_series(session, node, metric, period):
        calls.append(("series", node, metric, period))
        return [(t0 + timedelta(hours=i), 100.0 + i) for i in range(24)]

    def tenant_disk(session, tenant_ids):
        calls.append(("disk", tuple(tenant_ids)))
        return {t: {"web_mb": 123.4, "mail_mb": 56.7, "at": t0} for t in tenant_ids}

    mod.node_now, mod.node_series, mod.tenant_disk, mod.calls = (node_now, node_series,
                                                                 tenant_disk, calls)
    return mod


def test_usage_pages_use_the_seam(as_, monkeypatch):
    mod = _usage_module()
    monkeypatch.setitem(sys.modules, "oemhost.usage", mod)
    page = as_("reseller_a").get("/reseller/?period=week").get_data(as_text=True)
    assert page.count("<svg") == 4 and "51200 / 102400 MB" in page
    assert ("series", "node1", "net_tx_bps", "week") in mod.calls
    # only its own tenants are asked for
    asked = {t for c in mod.calls if c[0] == "disk" for t in c[1]}
    assert asked == {"shop1"}
    page = as_("enduser_a").get("/panel/disk").get_data(as_text=True)
    assert "123" in page and "57" in page
