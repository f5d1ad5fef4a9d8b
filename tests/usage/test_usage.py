"""oemhost.usage: storing collections, rates from counters, the panels' seam, prune."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from oemhost import usage
from oemhost.db import session_scope
from oemhost.db.models.usage import UsageNodeSample, UsageTenantSample
from oemhost.jobs.results import RESULT_HANDLERS, RunInfo, deliver
from oemhost.usage.collect import network_rates, record
from oemhost.usage.config import UsageConfig
from oemhost.usage.prune import prune

MB = 1024 * 1024
T0 = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)


def payload(*, web_mb=10, rx=0, tx=0, boot="b1", srv_used_mb=100, mem_used_mb=512):
    return {
        "node": "node1",
        "usage": {
            "node": {
                "at": 0, "boot_id": boot, "load": [0.5, 0.4, 0.3],
                "filesystems": [
                    {"mount": "/", "fstype": "ext4", "device": "/dev/vda",
                     "used_bytes": 1000 * MB, "total_bytes": 4000 * MB},
                    {"mount": "/srv", "fstype": "btrfs", "device": "/dev/loop0",
                     "used_bytes": srv_used_mb * MB, "total_bytes": 1000 * MB}],
                "memory": {"total_bytes": 2048 * MB, "used_bytes": mem_used_mb * MB,
                           "available_bytes": (2048 - mem_used_mb) * MB},
                "network": {"host0": {"rx_bytes": rx, "tx_bytes": tx}},
            },
            "tenants": {
                "shop1": {"web": {"used": web_mb * MB, "limit": 1500 * MB},
                          "mail": {"used": 2 * MB, "limit": 500 * MB},
                          "total": {"used": (web_mb + 2) * MB, "limit": 2000 * MB},
                          "mailboxes": {"info@shop1.example": {
                              "bytes": MB, "limit": 100 * MB, "messages": 3}}},
                "../x": {"web": {"used": 1}},
            },
        },
        "databases": [{"tenant": "shop1", "engine": "mariadb", "name": "shop1_wp",
                       "bytes": 3 * MB},
                      {"tenant": "shop1", "engine": "postgresql", "name": "shop1_pg",
                       "bytes": MB}],
    }


def test_network_rates_from_deltas_and_resets():
    prev = {"eth0": {"rx_bytes": 1000, "tx_bytes": 500}}
    at1 = T0 + timedelta(seconds=100)
    # 1000 bytes in 100 s = 80 bit/s
    assert network_rates(prev, T0, "b", {"eth0": {"rx_bytes": 2000, "tx_bytes": 1500}},
                         at1, "b") == (80.0, 80.0)
    # a counter that went down restarted from zero: its delta is its value
    assert network_rates(prev, T0, "b", {"eth0": {"rx_bytes": 100, "tx_bytes": 1000}},
                         at1, "b") == (8.0, 40.0)
    # after a reboot every counter restarted, even one that is higher than before
    assert network_rates(prev, T0, "b", {"eth0": {"rx_bytes": 5000, "tx_bytes": 500}},
                         at1, "c") == (400.0, 40.0)
    # a new interface without a reboot has no base yet
    assert network_rates(prev, T0, "b", {"eth0": {"rx_bytes": 1000, "tx_bytes": 500},
                                         "eth1": {"rx_bytes": 10**9, "tx_bytes": 0}},
                         at1, "b") == (0.0, 0.0)
    assert network_rates(None, None, "", prev, at1, "b") == (None, None)
    assert network_rates(prev, at1, "b", prev, T0, "b") == (None, None)


def test_record_and_the_panels_seam(factory):
    with session_scope(factory) as s:
        record(s, "node1", payload(rx=1000, tx=1000), at=T0)
    with session_scope(factory) as s:
        record(s, "node1", payload(web_mb=60, rx=76000, tx=1000, srv_used_mb=150), at=T0 +
               timedelta(minutes=10))
    with factory() as s:
        now = usage.node_now(s, "node1")
        assert now["at"] == T0 + timedelta(minutes=10)
        assert now["disk_used_mb"] == 1150 and now["disk_total_mb"] == 5000
        assert now["mem_used_mb"] == 512 and now["mem_total_mb"] == 2048
        assert now["net_rx_bps"] == pytest.approx(75000 * 8 / 600) and now["net_tx_bps"] == 0
        assert {f["mount"]: f["used_mb"] for f in now["filesystems"]}["/srv"] == 150
        assert usage.node_now(s, "node2") is None
        disk = usage.tenant_disk(s, ["shop1", "other"])
        assert set(disk) == {"shop1"}
        assert disk["shop1"]["web_mb"] == 60 and disk["shop1"]["mail_mb"] == 2
        assert disk["shop1"]["db_mb"] == 4 and disk["shop1"]["total_limit_mb"] == 2000
        assert disk["shop1"]["mailboxes"]["info@shop1.example"]["limit_mb"] == 100
        # the bad tenant id was not stored
        assert s.scalar(select(func.count()).select_from(UsageTenantSample)) == 2
        series = usage.node_series(s, "node1", "disk_used_mb", "day",
                                   now=T0 + timedelta(hours=1))
        assert [v for _, v in series] == [1100, 1150]
        with pytest.raises(ValueError):
            usage.node_series(s, "node1", "cpu", "day")


def test_result_handler_stores_only_the_runs_nodes(settings, factory, tmp_path):
    assert RESULT_HANDLERS["usage"] == "oemhost.usage.collect:handle_results"
    d = tmp_path / "results"
    d.mkdir()
    (d / "usage--node1.json").write_text(json.dumps(payload()))
    (d / "usage--node2.json").write_text(json.dumps(payload()))  # not a node of the run
    (d / "usage--node3.json").write_text("{not json")
    run = RunInfo(run_id=1, kind="usage", playbook="collect_usage.yml",
                  nodes=["node1", "node3"], status="succeeded")
    assert deliver(settings, run, d) == {"usage": 3}
    with factory() as s:
        nodes = s.scalars(select(UsageNodeSample.node)).all()
    assert nodes == ["node1"]


def test_prune_downsamples_and_keeps_averages(factory):
    now = T0 + timedelta(days=100)
    with session_scope(factory) as s:
        # 3 days of 10-minute samples ending now, and a week 95 days ago
        for i in range(3 * 144):
            at = now - timedelta(minutes=10 * i)
            s.add(UsageNodeSample(node="node1", at=at, disk_used_mb=float(i % 2), disk_total_mb=9,
                                  mem_used_mb=100, mem_total_mb=200, net_rx_bps=None,
                                  net_tx_bps=8.0, filesystems=[]))
        for h in range(7 * 24):
            s.add(UsageNodeSample(node="node1", at=now - timedelta(days=95, hours=h),
                                  resolution="hour", samples=6, disk_used_mb=10, disk_total_mb=9,
                                  mem_used_mb=100, mem_total_mb=200, net_rx_bps=1.0,
                                  net_tx_bps=1.0, filesystems=[]))
    cfg = UsageConfig(raw_days=2, hourly_days=90, daily_days=0)
    with session_scope(factory) as s:
        res = prune(s, cfg, now=now)
    assert res.to_hour > 100 and res.to_day == 7 * 24 and res.deleted == 0
    with factory() as s:
        by_res = dict(s.execute(select(UsageNodeSample.resolution, func.count())
                                .group_by(UsageNodeSample.resolution)).all())
        assert by_res["raw"] <= 2 * 144 + 6 and by_res["day"] in (7, 8)
        hourly = s.scalars(select(UsageNodeSample).where(
            UsageNodeSample.resolution == "hour")).all()
        assert all(h.samples == 6 and h.disk_used_mb == 0.5 and h.net_rx_bps is None
                   for h in hourly if h.samples == 6)
        # samples are conserved
        assert s.scalar(select(func.sum(UsageNodeSample.samples))) == 3 * 144 + 7 * 24 * 6
        week = usage.node_series(s, "node1", "disk_used_mb", "week", now=now)
        # the oldest hour holds 5 samples (1, 0, 1, 0, 1), the others 6 (0, 1, ...)
        assert week[0][1] == pytest.approx(0.6)
        assert len(week) == 3 * 24 + 1 and all(v == pytest.approx(0.5) for _, v in week[1:-1])
        assert week[-1][1] == 0  # the one sample at "now"
    # a second prune has nothing left to do; daily_days deletes old days
    with session_scope(factory) as s:
        assert prune(s, cfg, now=now).to_hour == 0
        assert prune(s, UsageConfig(daily_days=90), now=now).deleted in (7, 8)


def test_config_rejects_bad_values(settings):
    from dataclasses import replace

    from oemhost.errors import OemhostError

    assert UsageConfig.from_settings(settings) == UsageConfig()
    for bad in ({"interval": 5}, {"raw_days": 0}, {"nope": 1}, {"hourly_days": 1},
                {"interval": "600"}):
        with pytest.raises(OemhostError):
            UsageConfig.from_settings(replace(settings, raw={"usage": bad}))
