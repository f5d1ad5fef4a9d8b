#!/usr/bin/python
# Copyright (c) 2026, oemhost
# SPDX-License-Identifier: MIT
"""The node's backup status (written by oemhost-backup), for the control plane."""

from __future__ import annotations

DOCUMENTATION = r"""
module: oemhost_backup_status
short_description: Read the status of the node's last restic backup
description:
  - Reads the status file that C(oemhost-backup run) (the C(backup) role's systemd service)
    writes after every run, and whether backups are configured on the node at all (the
    role's C(config.json) exists). Read only; never changes anything.
  - The result is normalised, so the control plane stores only known fields with their
    types; a missing, unreadable or malformed status file is reported as such
    (C(result=never) / C(result=unknown)), never as a failure of the task.
version_added: "0.1.0"
author: oemhost
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
options:
  status_file:
    description: The status file of the backup service.
    type: path
    default: /var/lib/oemhost/backup/status.json
  config_file:
    description: The backup configuration; its presence means backups are configured.
    type: path
    default: /etc/oemhost/backup/config.json
  unit:
    description: The systemd service of the backup; its state tells a run in progress.
    type: str
    default: oemhost-backup.service
"""

EXAMPLES = r"""
- name: Read the backup status
  oemhost_backup_status:
  register: backup_status
  # backup_status.status.result in ok | failed | never | unknown
"""

RETURN = r"""
configured:
  description: Whether backups are configured on the node (a target is set).
  returned: always
  type: bool
running:
  description: Whether a backup is running now.
  returned: always
  type: bool
status:
  description: The last run, normalised.
  returned: always
  type: dict
  sample:
    result: ok
    started_at: "2026-11-24T03:12:00Z"
    finished_at: "2026-11-24T03:12:41Z"
    snapshot_id: 4f1c...
    size_bytes: 52428800
    added_bytes: 1048576
    files: 120
    tenants: 3
    databases: 2
    error: null
    last_success_at: "2026-11-24T03:12:41Z"
    last_snapshot_id: 4f1c...
    repository: sftp:backup@store1:/srv/restic/node1
    duration_s: 41.2
"""

import json
import os
import re
import subprocess

from ansible.module_utils.basic import AnsibleModule

TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
SNAPSHOT_RE = re.compile(r"^[0-9a-f]{8,64}$")
RESULTS = ("ok", "failed")
TEXT_FIELDS = {"error": 500, "repository": 300}
INT_FIELDS = ("size_bytes", "added_bytes", "files", "tenants", "databases")


def _time(value):
    return value if isinstance(value, str) and TIME_RE.match(value) else None


def _int(value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def _text(value, limit):
    if not isinstance(value, str):
        return None
    clean = "".join(ch if ch.isprintable() else " " for ch in value)
    return clean[:limit]


def empty_status(result: str, error: str | None = None) -> dict:
    status = {"result": result, "started_at": None, "finished_at": None,
              "snapshot_id": None, "last_snapshot_id": None, "last_success_at": None,
              "duration_s": None, "error": error, "repository": None}
    status.update(dict.fromkeys(INT_FIELDS))
    return status


def normalise(raw) -> dict:
    """Only known fields with checked types; anything else is dropped."""
    if not isinstance(raw, dict):
        return empty_status("unknown", "status file is not a JSON object")
    result = raw.get("result")
    status = empty_status(result if result in RESULTS else "unknown")
    for key in ("started_at", "finished_at", "last_success_at"):
        status[key] = _time(raw.get(key))
    for key in ("snapshot_id", "last_snapshot_id"):
        value = raw.get(key)
        status[key] = value if isinstance(value, str) and SNAPSHOT_RE.match(value) else None
    for key in INT_FIELDS:
        status[key] = _int(raw.get(key))
    for key, limit in TEXT_FIELDS.items():
        status[key] = _text(raw.get(key), limit)
    duration = raw.get("duration_s")
    if isinstance(duration, (int, float)) and not isinstance(duration, bool) and duration >= 0:
        status["duration_s"] = float(duration)
    if status["result"] == "unknown" and status["error"] is None:
        status["error"] = f"unknown result {str(result)[:40]!r}"
    return status


def read_status(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            raw = json.load(fh)
    except FileNotFoundError:
        return empty_status("never")
    except (OSError, ValueError) as exc:
        return empty_status("unknown", f"cannot read the status file: {exc}"[:500])
    return normalise(raw)


def is_running(unit: str) -> bool:
    try:
        proc = subprocess.run(["systemctl", "is-active", "--", unit], capture_output=True,
                              text=True, check=False, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return proc.stdout.strip() in ("activating", "active", "reloading")


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "status_file": {"type": "path", "default": "/var/lib/oemhost/backup/status.json"},
            "config_file": {"type": "path", "default": "/etc/oemhost/backup/config.json"},
            "unit": {"type": "str", "default": "oemhost-backup.service"},
        },
        supports_check_mode=True,
    )
    module.exit_json(changed=False,
                     configured=os.path.isfile(module.params["config_file"]),
                     running=is_running(module.params["unit"]),
                     status=read_status(module.params["status_file"]))


if __name__ == "__main__":
    main()
