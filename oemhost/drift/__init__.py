"""Drift detection: does a node still match its inventory?

A low-priority ``drift`` job per node (every ``[drift] interval``, 6 hours by default,
:mod:`oemhost.drift.schedule`) runs ``playbooks/site.yml`` with ``--check --diff``. The
``oemhost_drift`` callback plugin (oemhost/jobs/ansible_plugins/callback) hands the tasks
that would change, with their diffs (never those of ``no_log`` tasks), back through the
results hand-off to :func:`oemhost.drift.report.handle_results`, which stores a
:class:`~oemhost.db.models.drift.DriftReport`. The provider panel shows them and can
submit a converge of the node (:func:`converge`). See docs/USAGE.md.
"""

from oemhost.drift.report import converge, latest_reports, node_reports

__all__ = ["converge", "latest_reports", "node_reports"]
