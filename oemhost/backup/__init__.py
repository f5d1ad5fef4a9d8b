"""Backups: the status of every node's daily restic backup, for the provider.

The ``backup`` role (docs/roles/backup.md) backs the tenants' areas and databases up on
each node and writes a status file; ``playbooks/collect_backup_status.yml`` reads it with
``library/oemhost_backup_status.py`` as a scheduled low-priority job (:mod:`.schedule`),
and :mod:`.collect` stores it (``backup_node_status``, ``backup_runs``) and opens the
node's ``backup`` incident in the monitor when a backup failed or is older than
``stale_after_hours``; :mod:`.queries` serves the provider panel.
"""
