#!/usr/bin/python
# Copyright: oemhost contributors
# MIT License (see the project's pyproject.toml)
"""The quota interface of oemhost: tenants' areas with OS-enforced limits, batched."""

from __future__ import annotations

DOCUMENTATION = r"""
module: oemhost_quota
short_description: Areas of hosting tenants with disk limits the OS enforces, and their usage
description:
  - Takes every tenant of a node in one call. For each tenant keeps its areas
    (C(<base>/<tenant>/web), C(<base>/<tenant>/mail)) as quota units, each limited to its
    size, and all of a tenant's areas under one parent limit (the plan's total), so the
    web/mail split and the total both hold. Acts only on what differs.
  - Returns the usage of every tenant and area (for the panels and usage collection).
  - Backends sit behind one interface (C(QuotaBackend) in this file). V(btrfs) (the only
    one so far) makes each area a subvolume with a qgroup limit, and the tenant a level-1
    qgroup holding its areas' qgroups, limited to the total. XFS or ext4 project quotas
    (area = directory with a project id, limit by C(xfs_quota)/C(setquota -P), no
    parent limit in the kernel) would be another subclass.
  - An area that shrinks below its usage keeps its data; writes fail with "Disk quota
    exceeded" until usage is under the limit again.
version_added: "0.1.0"
author: oemhost contributors
options:
  backend:
    description: Quota implementation of the file system under O(base).
    type: str
    choices: [btrfs]
    default: btrfs
  base:
    description: Directory that holds the tenants' homes (must already exist).
    type: path
    default: /srv/hosting
  tenants:
    description: The tenants to converge (others on the node are left alone).
    type: list
    elements: dict
    default: []
    suboptions:
      tenant:
        description: Tenant id (the home C(<base>/<tenant>) and the user must exist).
        type: str
        required: true
      areas:
        description: Area name -> limit in MB.
        type: dict
        default: {}
      total_mb:
        description: Limit over all the tenant's areas (MB).
        type: int
      state:
        description: V(absent) deletes the tenant's areas with their data, and its limits.
        type: str
        choices: [present, absent]
        default: present
  area_modes:
    description:
      - Owner group and mode of each area's top directory; the owner is the tenant.
        An empty group means the tenant's own group.
    type: dict
    default: {web: {group: "", mode: "0750"}, mail: {group: "", mode: "0700"}}
  report_only:
    description: Change nothing; only return the usage (of O(tenants), or all when empty).
    type: bool
    default: false
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
"""

EXAMPLES = r"""
- name: Keep the tenants' areas and limits
  oemhost_quota:
    tenants:
      - {tenant: shop1, areas: {web: 1500, mail: 500}, total_mb: 2000}
    area_modes:
      web: {group: www-data, mode: "02750"}
      mail: {group: "", mode: "0700"}

- name: Read usage for the panels
  oemhost_quota:
    report_only: true
  register: quota
"""

RETURN = r"""
usage:
  description: Per tenant and area (plus C(total)) the bytes used and the limit (null = none).
  type: dict
  returned: always
  sample: {shop1: {web: {used: 1048576, limit: 1572864000}, mail: {used: 0, limit: 524288000},
                   total: {used: 1048576, limit: 2097152000}}}
actions:
  description: What was done (or would be, in check mode), one line each.
  type: list
  elements: str
  returned: always
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible.module_utils.oemhost_quota_backends import (  # noqa: E402, F401
    BACKENDS,
    MB,
    BtrfsBackend,
    QuotaBackend,
    QuotaError,
    Step,
    module_runner,
    parse_qgroups,
    parse_subvolumes,
)


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            backend=dict(type="str", choices=list(BACKENDS), default="btrfs"),
            base=dict(type="path", default="/srv/hosting"),
            tenants=dict(type="list", elements="dict", default=[], options=dict(
                tenant=dict(type="str", required=True),
                areas=dict(type="dict", default={}),
                total_mb=dict(type="int"),
                state=dict(type="str", choices=["present", "absent"], default="present"),
            )),
            area_modes=dict(type="dict", default={"web": {"group": "", "mode": "0750"},
                                                  "mail": {"group": "", "mode": "0700"}}),
            report_only=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    p = module.params

    run = module_runner(module)

    try:
        backend = BACKENDS[p["backend"]](p["base"], run)
        backend.load()
        steps: list[Step] = []
        if not p["report_only"]:
            steps += backend.prepare_steps()
            taken: set[str] = set()
            for tenant in p["tenants"]:
                for area, size in (tenant.get("areas") or {}).items():
                    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
                        raise QuotaError(f"{tenant['tenant']}: area {area}: size must be a "
                                         "whole number of MB")
                    if "/" in area or area.startswith("."):
                        raise QuotaError(f"{tenant['tenant']}: {area!r} is not an area name")
                total = tenant.get("total_mb")
                if total is not None and sum((tenant.get("areas") or {}).values()) > total:
                    raise QuotaError(f"{tenant['tenant']}: the areas add up to more than "
                                     f"the total {total} MB")
                steps += backend.plan_tenant(tenant, p["area_modes"], taken)
        if steps and not module.check_mode:
            for step in steps:
                if step.argv:
                    run(step.argv)
                elif step.func:
                    step.func(*step.args)
            backend.load()
        names = [t["tenant"] for t in p["tenants"]] or backend.known_tenants()
        usage = backend.usage(names)
    except QuotaError as exc:
        module.fail_json(msg=str(exc))
    lines = [f"{s.tenant}: {s.text}\n" for s in steps]
    module.exit_json(changed=bool(steps), actions=[line.strip() for line in lines],
                     usage=usage,
                     diff={"before": "", "after": "".join(lines),
                           "before_header": "quota", "after_header": "quota (changes)"})


if __name__ == "__main__":
    main()
