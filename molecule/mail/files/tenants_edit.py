#!/usr/bin/env python3
"""Write a changed copy of the scenario's tenant list as an extra-vars file.

  tenants_edit.py BASE.json OUT.json [--mailbox ADDRESS FIELD JSON]... [--tenant ID FIELD JSON]...

BASE.json is {"oemhost_tenants": [...]} as the verify step dumped it from the inventory;
each edit sets FIELD of one mailbox (by address) or one tenant (by id) to a JSON value.
The result stands for an inventory the store would not write (a bad value, a lock field
the store does not have yet) in nested runs. Extra vars are trusted by Ansible, so every
string is written in the inert form {"__ansible_unsafe": ...}, as the plugins' values are.
"""

import argparse
import json
import sys


def plain(value):
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def inert(value):
    if isinstance(value, str):
        return {"__ansible_unsafe": value}
    if isinstance(value, dict):
        return {k: inert(v) for k, v in value.items()}
    if isinstance(value, list):
        return [inert(v) for v in value]
    return value


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("base")
    parser.add_argument("out")
    parser.add_argument("--mailbox", nargs=3, action="append", default=[],
                        metavar=("ADDRESS", "FIELD", "JSON"))
    parser.add_argument("--tenant", nargs=3, action="append", default=[],
                        metavar=("ID", "FIELD", "JSON"))
    args = parser.parse_args()
    with open(args.base) as f:
        data = plain(json.load(f))
    tenants = data["oemhost_tenants"]
    for tid, field, value in args.tenant:
        tenant = next(t for t in tenants if t["id"] == tid)
        tenant[field] = json.loads(value)
    for address, field, value in args.mailbox:
        box = next(b for t in tenants for b in t.get("mailboxes") or [] if b["address"] == address)
        box[field] = json.loads(value)
    with open(args.out, "w") as f:
        json.dump({"oemhost_tenants": inert(tenants)}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
