"""The monitor: probes every node and service, keeps Nagios-like states, opens incidents,
remediates (level 1 restart, level 2 reboot), sends notices and failure reports.

One module per responsibility:

=====================  ===============================================================
``checks``             typed values: Check, CheckResult, Status, Failure
``probes``             pure asyncio probes (ping + 12 protocols), runner, prober pool
``state``              SOFT/HARD states and flapping (pure)
``business``           the business calendar (Japanese holidays, business hours)
``config``             ``[monitor]`` settings, validated
``inventory``          nodes / resellers / tenants read from the inventory
``records``            storing results and states
``incidents``          incident lifecycle and timeline
``remediation``        level 1 / level 2 decisions; ``jobs`` (job engine gateway),
                       ``infra`` (providers and the reboot rate limit)
``notices``            notices and reports by mail (``oemhost.notify``)
``engine``             sweep and follow-up: the orchestration
``schedule``           APScheduler registration for the worker
``metrics``            Prometheus exposition
``queries``            read API for the panels
``simulate``,          simulated endpoints and throw-away database servers for the
``dbservers``          benchmark and tests
=====================  ===============================================================
"""

# The panels' seam (webui/provider/monitoring.py) looks these up on the package.
_PANEL_FUNCTIONS = ("list_incidents", "list_notices", "node_status")


def __getattr__(name: str):
    if name in _PANEL_FUNCTIONS:
        from oemhost.monitor import panels

        return getattr(panels, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
