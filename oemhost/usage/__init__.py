"""Usage collection: node and tenant usage samples for the panels.

``playbooks/collect_usage.yml`` (a low-priority ``usage`` job per node, submitted every
10 minutes by :mod:`oemhost.usage.schedule`) runs ``library/oemhost_usage.py`` and
``oemhost_database_usage`` and hands the figures back through the results hand-off to
:func:`oemhost.usage.collect.handle_results`, which stores samples (network counters
become rates). :mod:`oemhost.usage.prune` downsamples (raw 2 days, hourly 90 days, daily
beyond). The panels read (``webui/reseller/usage_source.py``)::

    node_now(session, node)                      # newest figures or None
    node_series(session, node, metric, period)   # [(datetime, value)], oldest first
    tenant_disk(session, tenant_ids)             # {tenant: {"web_mb", "mail_mb", "at", ...}}
    quota_warnings(disk, web_mb=, mail_mb=, total_mb=)  # areas at 80 % / 100 %

See docs/USAGE.md.
"""

from oemhost.usage.queries import (
    METRICS,
    PERIODS,
    node_now,
    node_series,
    quota_warnings,
    tenant_disk,
)

__all__ = ["METRICS", "PERIODS", "node_now", "node_series", "quota_warnings", "tenant_disk"]
