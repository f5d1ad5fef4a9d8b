"""Benchmark of the jobs engine (prints figures; asserts nothing).

- queued -> started latency of a job whose node is free (target: within 1 s), for a
  remediation job and a lone provisioning job (both start at the next poll; provisioning
  jobs that arrive together or queue behind a run settle first);
- coalescing: N tenant changes for one node within 2 s -> how many runs, and how long from
  the last change until all are served;
- the cost of one run (ansible-playbook start to finish) for a trivial play.

Runs against "nodes" with ``ansible_connection: local`` (no lab needed), with a real
worker, database (SQLite, WAL) and ansible-runner. Usage: ``python bench/bench_jobs.py``.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from sqlalchemy import func, select

from oemhost.config import load_settings
from oemhost.db.models.jobs import Job
from oemhost.jobs import queue
from oemhost.jobs.config import JobsConfig
from oemhost.jobs.worker import Worker, open_database

ANSIBLE_CFG = """[defaults]
host_key_checking = False
retry_files_enabled = False
interpreter_python = auto_silent
gathering = explicit
inventory_ignore_patterns = ^state$
[inventory]
enable_plugins = yaml
"""
PLAYBOOK = """---
- name: Converge tenants (bench)
  hosts: all
  gather_facts: false
  tasks:
    - name: Mark the tenants in scope served
      ansible.builtin.shell: >-
        for t in {{ oemhost_tenant_scope | default([]) | join(' ') }}; do
        echo "$t" >> {{ out }}/{{ inventory_hostname }}.served; done
      changed_when: true
"""
NODES = ("b1", "b2")


def setup(root: Path):
    project = root / "project"
    (project / "playbooks").mkdir(parents=True)
    (project / "ansible.cfg").write_text(ANSIBLE_CFG)
    (project / "playbooks" / "tenant.yml").write_text(PLAYBOOK)
    inv = root / "inventory"
    (inv / "state" / "nodes").mkdir(parents=True)
    out = root / "out"
    out.mkdir()
    hosts = "".join(f"    {n}: {{}}\n" for n in NODES)
    (inv / "hosts.yml").write_text(
        "all:\n  vars:\n    ansible_connection: local\n"
        "    ansible_python_interpreter: \"{{ ansible_playbook_python }}\"\n"
        f"    out: {out}\n  hosts:\n{hosts}")
    for n in NODES:
        (inv / "state" / "nodes" / f"{n}.yml").write_text(f"name: {n}\n")
    settings = load_settings({"OEMHOST_PROJECT_DIR": str(project),
                              "OEMHOST_INVENTORY": str(inv),
                              "OEMHOST_STATE_DIR": str(root / "state")})
    return settings, out


def submit(factory, settings, **kw) -> int:
    with factory() as s, s.begin():
        return queue.submit(s, requested_by="bench", settings=settings, **kw).id


def wait(factory, job_id: int):
    with factory() as s:
        return queue.wait(s, job_id, timeout=300)


def latency(factory, settings, kind: str, samples: int) -> list[float]:
    out = []
    for i in range(samples):
        node = NODES[i % len(NODES)]
        job = wait(factory, submit(factory, settings, kind=kind, playbook="tenant.yml",
                                   nodes=[node], tenant_scope=[f"lat{i}x"]))
        out.append((job.started_at - job.created_at).total_seconds())
    return out


def burst(factory, settings, out: Path, changes: int, seconds: float) -> dict:
    node = "b1"
    served_file = out / f"{node}.served"
    served_file.unlink(missing_ok=True)
    ids = []
    t0 = time.monotonic()
    for i in range(changes):
        ids.append(submit(factory, settings, kind="provision", playbook="tenant.yml",
                          nodes=[node], tenant_scope=[f"t{i:04d}x"]))
        time.sleep(max(0.0, t0 + (i + 1) * seconds / changes - time.monotonic()))
    t_last = time.monotonic()
    for j in ids:
        wait(factory, j)
    t_done = time.monotonic()
    with factory() as s:
        runs = s.scalar(select(func.count(func.distinct(Job.run_id))).where(Job.id.in_(ids)))
    served = set(served_file.read_text().split()) if served_file.exists() else set()
    return {"changes": changes, "runs": runs,
            "served": len({f"t{i:04d}x" for i in range(changes)} & served),
            "last_change_to_served": t_done - t_last}


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="oemhost-bench-jobs-") as tmp:
        settings, out = setup(Path(tmp))
        factory = open_database(settings)
        worker = Worker(settings, JobsConfig(), factory=factory, scheduler=False)
        thread = threading.Thread(target=worker.run, daemon=True)
        thread.start()
        try:
            t = time.monotonic()
            wait(factory, submit(factory, settings, kind="remediation", playbook="tenant.yml",
                                 nodes=["b1"]))
            print(f"one run of a trivial play (ansible-playbook start to finish): "
                  f"{time.monotonic() - t:.2f} s")
            cfg = worker.cfg
            for kind, n in (("remediation", 6), ("provision", 6)):
                lat = latency(factory, settings, kind, n)
                med = statistics.median(lat)
                print(f"queued -> started, node free, {kind:11}: median {med:.2f} s"
                      f", max {max(lat):.2f} s (n={n}; poll {cfg.poll_interval} s"
                      + (", a lone change" if kind == "provision" else "")
                      + "; target <= 1 s)")
            for changes in (20, 100):
                r = burst(factory, settings, out, changes, 2.0)
                print(f"coalescing: {r['changes']} tenant changes in 2 s for one node -> "
                      f"{r['runs']} run(s), {r['served']}/{r['changes']} served, "
                      f"{r['last_change_to_served']:.2f} s from the last change to all served"
                      " (target: at most 2 runs)")
        finally:
            worker.interrupt_now()
            thread.join(timeout=60)
            factory.kw["bind"].dispose()
    print("panel change -> tenant served on a node with 500 tenants: not measured here "
          "(needs playbooks/tenant.yml and the store; lab runs: tests/jobs/test_lab_jobs.py)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
