"""``oemhost jobs list|show|log|cancel|retry|submit|prune|workers`` and ``oemhost worker``."""

from __future__ import annotations

import getpass
import json
import logging
import signal
import sys

from oemhost.errors import OemhostError, ValidationError


def _who(args) -> str:
    return args.by or f"cli:{getpass.getuser()}"


def register(sub) -> None:
    p = sub.add_parser("jobs", help="ansible-runner jobs: list, show, log, cancel, retry",
                       description="The job queue: every change applied to nodes.")
    jsub = p.add_subparsers(dest="jobs_cmd", metavar="ACTION", parser_class=type(p))
    jsub.required = True

    q = jsub.add_parser("list", help="jobs, newest first")
    q.add_argument("--status", action="append",
                   choices=["queued", "running", "succeeded", "failed", "cancelled"])
    q.add_argument("--kind", action="append")
    q.add_argument("--node")
    q.add_argument("--tenant")
    q.add_argument("--limit", type=int, default=30, help="jobs per page (default 30)")
    q.add_argument("--page", type=int, default=1)
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_list)

    q = jsub.add_parser("show", help="one job: request, run, per-host results")
    q.add_argument("job_id", type=int)
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_show)

    q = jsub.add_parser("log", help="the output of the run serving a job")
    q.add_argument("job_id", type=int)
    q.add_argument("-f", "--follow", action="store_true", help="until the job is finished")
    q.add_argument("--after", type=int, default=0, help="only events after this sequence")
    q.set_defaults(func=cmd_log)

    q = jsub.add_parser("cancel", help="cancel a queued or running job")
    q.add_argument("job_id", type=int)
    q.add_argument("--by", help="who cancels (default cli:<user>)")
    q.set_defaults(func=cmd_cancel)

    q = jsub.add_parser("retry", help="queue a failed or cancelled job again")
    q.add_argument("job_id", type=int)
    q.add_argument("--by", help="who asks (default cli:<user>)")
    q.add_argument("--reason", default="")
    q.add_argument("--wait", action="store_true")
    q.add_argument("--timeout", type=float, default=None)
    q.set_defaults(func=cmd_retry)

    q = jsub.add_parser("submit", help="queue a job by hand")
    q.add_argument("--kind", required=True)
    q.add_argument("--playbook", required=True, help="a file in playbooks/, e.g. site.yml")
    q.add_argument("--node", action="append", required=True, dest="nodes")
    q.add_argument("--tenant", action="append", dest="tenants",
                   help="limit to these tenants (default: the whole node)")
    q.add_argument("--tag", action="append", dest="tags", default=[])
    q.add_argument("-e", "--extra-var", action="append", default=[], metavar="KEY=ID",
                   help="an extra var whose value is an id")
    q.add_argument("--priority", type=int)
    q.add_argument("--reason", default="")
    q.add_argument("--by", help="who asks (default cli:<user>)")
    q.add_argument("--wait", action="store_true", help="wait and print the log")
    q.add_argument("--timeout", type=float, default=None)
    q.set_defaults(func=cmd_submit)

    q = jsub.add_parser("prune", help="delete old events, artifacts and records now")
    q.set_defaults(func=cmd_prune)

    q = jsub.add_parser("workers", help="worker processes and their heartbeats")
    q.add_argument("--all", action="store_true", help="also stopped and dead ones")
    q.set_defaults(func=cmd_workers)

    w = sub.add_parser("worker", help="run jobs and the scheduler (one process)",
                       description="Take jobs from the database and run them with "
                                   "ansible-runner; host the monitor's scheduler.")
    w.add_argument("--max-parallel", type=int, default=None,
                   help="runs at once (default [jobs] max_parallel, 4)")
    w.add_argument("--no-scheduler", action="store_true",
                   help="run jobs only, never the APScheduler scheduler")
    w.add_argument("--drain", type=float, default=60.0,
                   help="on SIGTERM, seconds running jobs get to finish (default 60)")
    w.add_argument("--log-level", default="INFO",
                   choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    w.set_defaults(func=cmd_worker)


def _factory(settings):
    from oemhost.jobs.worker import open_database

    return open_database(settings)


def _ts(v) -> str:
    return v.strftime("%Y-%m-%d %H:%M:%S") if v else "-"


def cmd_list(args, settings) -> int:
    from oemhost.jobs.queue import JobFilter, job_as_dict, list_jobs

    factory = _factory(settings)
    with factory() as s:
        page = list_jobs(s, JobFilter(status=args.status, kind=args.kind, node=args.node,
                                      tenant=args.tenant), page=args.page,
                         per_page=args.limit)
        if args.json:
            print(json.dumps([job_as_dict(j) for j in page.items], indent=1))
            return 0
        print(f"{'ID':>6} {'STATUS':10} {'KIND':12} {'PLAYBOOK':20} {'NODES':16} "
              f"{'RUN':>5} {'CREATED':19} BY")
        for j in page.items:
            print(f"{j.id:>6} {j.status:10} {j.kind:12} {j.playbook:20} "
                  f"{','.join(j.nodes)[:16]:16} {j.run_id or '-':>5} {_ts(j.created_at):19} "
                  f"{j.requested_by}")
        print(f"({page.total} job(s), page {page.page}/{page.pages})")
    return 0


def cmd_show(args, settings) -> int:
    from sqlalchemy import select

    from oemhost.db.models.jobs import Job
    from oemhost.jobs.queue import get_job, job_as_dict

    factory = _factory(settings)
    with factory() as s:
        job = get_job(s, args.job_id)
        if args.json:
            print(json.dumps(job_as_dict(job), indent=1))
            return 0
        print(f"job {job.id}: {job.status}" + (f" ({job.error})" if job.error else ""))
        print(f"  kind {job.kind}, playbook {job.playbook}, priority {job.priority}")
        print(f"  nodes {', '.join(job.nodes)}; tenants "
              f"{', '.join(job.tenant_scope) if job.tenant_scope else 'all'}")
        if job.tags:
            print(f"  tags {', '.join(job.tags)}")
        if job.extravars:
            print(f"  extra vars {json.dumps(job.extravars)}")
        print(f"  asked by {job.requested_by}" + (f": {job.reason}" if job.reason else ""))
        if job.inventory_commit:
            print(f"  inventory commit {job.inventory_commit}")
        if job.retry_of:
            print(f"  {job.origin} of job {job.retry_of}")
        later = s.scalars(select(Job.id).where(Job.retry_of == job.id)).all()
        if later:
            print(f"  retried as job(s) {', '.join(map(str, later))}")
        print(f"  created {_ts(job.created_at)}, started {_ts(job.started_at)}, "
              f"finished {_ts(job.finished_at)}")
        run = job.run
        if run is not None:
            others = [j.id for j in run.jobs if j.id != job.id]
            print(f"  run {run.id} by worker {run.worker_id}: {run.status}"
                  + (f", rc {run.rc}" if run.rc is not None else ""))
            if others:
                print(f"  the run also served job(s) {', '.join(map(str, others))}")
            if run.tenant_scope is not None and run.tenant_scope != job.tenant_scope:
                print(f"  run tenant scope {', '.join(run.tenant_scope)}")
            for host, r in sorted((run.host_results or {}).items()):
                print(f"    {host:20} " + " ".join(f"{k}={v}" for k, v in r.items()))
    return 0


def cmd_log(args, settings) -> int:
    from oemhost.jobs.queue import events_since, follow, get_job

    factory = _factory(settings)
    if not args.follow:
        with factory() as s:
            job = get_job(s, args.job_id)
            after = args.after
            while batch := events_since(s, args.job_id, after_seq=after, limit=1000):
                for ev in batch:
                    if ev.stdout:
                        print(ev.stdout)
                after = batch[-1].seq
            if job.finished:
                print(f"-- job {job.id} {job.status}" + (f": {job.error}" if job.error else ""))
        return 0
    for kind, data in follow(factory, args.job_id, args.after):
        if kind == "event":
            if data["stdout"]:
                print(data["stdout"], flush=True)
        else:
            print(f"-- job {data['id']} {data['status']}"
                  + (f": {data['error']}" if data["error"] else ""))
    return 0


def cmd_cancel(args, settings) -> int:
    from oemhost.jobs.queue import cancel

    factory = _factory(settings)
    with factory() as s, s.begin():
        job = cancel(s, args.job_id, requested_by=_who(args))
        state = "cancelled" if job.status == "cancelled" else "cancel requested (running)"
    print(f"job {args.job_id}: {state}")
    return 0


def _wait_and_report(factory, job_id: int, timeout: float | None) -> int:
    from oemhost.jobs.queue import wait

    with factory() as s:
        job = wait(s, job_id, timeout=timeout)
        print(f"job {job.id} {job.status}" + (f": {job.error}" if job.error else ""))
        return 0 if job.status == "succeeded" else 1


def cmd_retry(args, settings) -> int:
    from oemhost.jobs.queue import retry

    factory = _factory(settings)
    with factory() as s, s.begin():
        job = retry(s, args.job_id, requested_by=_who(args), reason=args.reason,
                    settings=settings)
        new_id = job.id
    print(f"job {new_id} queued (retry of job {args.job_id})")
    return _wait_and_report(factory, new_id, args.timeout) if args.wait else 0


def _extravars(items: list[str]) -> dict:
    out: dict = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValidationError({"extravars": f"{item!r}: expected KEY=VALUE"})
        out[key] = int(value) if value.isdigit() else value
    return out


def cmd_submit(args, settings) -> int:
    from oemhost.jobs.queue import submit

    factory = _factory(settings)
    with factory() as s, s.begin():
        job = submit(s, kind=args.kind, playbook=args.playbook, nodes=args.nodes,
                     tenant_scope=args.tenants, tags=args.tags,
                     extravars=_extravars(args.extra_var), requested_by=_who(args),
                     reason=args.reason, priority=args.priority, settings=settings)
        new_id = job.id
    print(f"job {new_id} queued")
    return _wait_and_report(factory, new_id, args.timeout) if args.wait else 0


def cmd_prune(args, settings) -> int:
    from oemhost.jobs.config import JobsConfig
    from oemhost.jobs.prune import prune

    r = prune(_factory(settings), settings, JobsConfig.from_settings(settings))
    print(f"pruned {r.runs_pruned} run(s) ({r.events_deleted} events); deleted "
          f"{r.jobs_deleted} job and {r.runs_deleted} run record(s)")
    return 0


def cmd_workers(args, settings) -> int:
    from sqlalchemy import select

    from oemhost.db.models.jobs import JobLease, JobRun, JobWorker

    factory = _factory(settings)
    with factory() as s:
        q = select(JobWorker).order_by(JobWorker.started_at.desc())
        if not args.all:
            q = q.where(JobWorker.status == "alive")
        leases = {lease.worker_id: lease.name for lease in s.scalars(select(JobLease))}
        for w in s.scalars(q):
            running = s.scalars(select(JobRun.id).where(JobRun.worker_id == w.id,
                                                        JobRun.status == "running")).all()
            print(f"{w.id:40} {w.status:8} heartbeat {_ts(w.heartbeat_at)} "
                  f"runs {','.join(map(str, running)) or '-'}"
                  + (f" [{leases[w.id]}]" if w.id in leases else ""))
    return 0


def cmd_worker(args, settings) -> int:
    from oemhost.jobs.config import JobsConfig
    from oemhost.jobs.worker import Worker

    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.log_level != "DEBUG":
        logging.getLogger("alembic").setLevel(logging.WARNING)
    if args.max_parallel is not None and args.max_parallel < 1:
        raise OemhostError("--max-parallel must be at least 1")
    cfg = JobsConfig.from_settings(settings)
    if not settings.inventory_dir.is_dir():
        raise OemhostError(f"inventory {settings.inventory_dir} not found")
    worker = Worker(settings, cfg, max_parallel=args.max_parallel,
                    scheduler=not args.no_scheduler, factory=_factory(settings))
    signals = {"n": 0}

    def on_signal(signum, _frame):
        signals["n"] += 1
        if signals["n"] == 1:
            logging.getLogger("oemhost.jobs").info(
                "%s: finishing running jobs (up to %g s); again to interrupt them",
                signal.Signals(signum).name, args.drain)
            worker.stop(drain=args.drain)
        else:
            worker.interrupt_now()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    worker.run()
    if worker.fenced:
        raise OemhostError(f"worker stopped: {worker.fenced}")
    return 0

