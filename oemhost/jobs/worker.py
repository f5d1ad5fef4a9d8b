"""``oemhost worker``: the one process that runs jobs and hosts the scheduler.

Threads of a worker process:

- the **main loop** (``poll_interval``): passes cancel requests to its runs, claims queued
  jobs (``claim``) up to ``max_parallel`` runs, and every few seconds recovers the runs of
  dead workers (``recovery``), holds the scheduler lease and prunes old events/artifacts;
- a **heartbeat** thread; when it cannot refresh the heartbeat for ``stale_after / 2``
  seconds, or finds itself declared dead, the worker *fences* itself: it stops its runs
  and exits, so that another worker may safely take over;
- the **event writer** (``events.EventWriter``);
- one thread per run (``runner.RunExecution``), which finishes its run in the database;
- the **APScheduler** ``BackgroundScheduler`` of the monitor and the usage collection,
  started only while this worker holds the ``scheduler`` lease (one scheduler per
  installation even if two workers are started; FACTS.md: a job store must not be shared
  by several schedulers). Components add theirs to ``SCHEDULE_MODULES``.

SIGTERM/SIGINT: stop claiming, let running jobs finish for up to ``--drain`` seconds, then
interrupt the rest (they are re-queued once, like after a crash). A second signal
interrupts at once.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
import uuid
from datetime import UTC
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError

from oemhost.db import check_connection, make_engine, migrate, session_factory
from oemhost.db.models.jobs import JobRun, JobWorker, db_now, utcnow
from oemhost.errors import OemhostError
from oemhost.jobs import procs
from oemhost.jobs.claim import claim
from oemhost.jobs.config import JobsConfig
from oemhost.jobs.events import EventWriter
from oemhost.jobs.prune import prune
from oemhost.jobs.recovery import Identity, close_run, hold_lease, recover, release_leases
from oemhost.jobs.runner import RunExecution, RunResult, RunSpec

log = logging.getLogger("oemhost.jobs")

# Modules (dotted names) exposing ``register(scheduler, settings)``: they add their jobs
# to the worker's APScheduler BackgroundScheduler (monitor probes, usage collection...).
# Use ``"module:function"`` references and ``id=..., replace_existing=True`` (FACTS.md).
SCHEDULE_MODULES: list[str] = ["oemhost.monitor.schedule", "oemhost.backup.schedule",
                              "oemhost.usage.schedule", "oemhost.drift.schedule"]

SCHEDULER_LEASE = "scheduler"
SCHEDULER_JOB_DEFAULTS = {"misfire_grace_time": 120, "coalesce": True, "max_instances": 1}
HOUSEKEEPING_EVERY = 5.0  # s: recovery and the scheduler lease
PRUNE_EVERY = 3600.0  # s


def _short_db_error(exc: Exception) -> str:
    return str(getattr(exc, "orig", None) or exc).splitlines()[0]


class Worker:
    """A job worker. ``run()`` blocks until ``stop()``; tests may run it in a thread."""

    def __init__(self, settings, cfg: JobsConfig | None = None, *,
                 max_parallel: int | None = None, scheduler: bool = True,
                 factory=None, worker_id: str | None = None):
        self.settings = settings
        self.cfg = cfg or JobsConfig.from_settings(settings)
        self.max_parallel = max_parallel or self.cfg.max_parallel
        self.use_scheduler = scheduler
        self.me = Identity.current()
        self.id = worker_id or f"{self.me.hostname}:{self.me.pid}:{uuid.uuid4().hex[:8]}"
        if factory is None:
            engine = make_engine(settings.database_url)
            check_connection(engine)
            factory = session_factory(engine)
        self.factory = factory
        self.writer = EventWriter(factory)
        self.active: dict[int, RunExecution] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()  # no new runs
        self._stopped = threading.Event()  # the main loop has ended
        self.fenced: str | None = None
        self.scheduler = None
        self._last_heartbeat_ok = time.monotonic()
        self._heartbeat = threading.Thread(target=self._heartbeat_loop, daemon=True,
                                           name="oemhost-heartbeat")
        self.drain_timeout = 0.0

    # -- lifecycle -------------------------------------------------------------------
    def register(self) -> None:
        with self.factory() as s, s.begin():
            s.add(JobWorker(id=self.id, hostname=self.me.hostname, boot_id=self.me.boot_id,
                            pid=self.me.pid, proc_start=self.me.proc_start, status="alive",
                            heartbeat_at=db_now()))
        log.info("worker %s started (max_parallel %d)", self.id, self.max_parallel)

    def run(self) -> None:
        """Register, recover what dead workers left, then loop until stopped."""
        self.register()
        self.writer.start()
        self._heartbeat.start()
        last_house = last_prune = 0.0
        try:
            while not self._stopping.is_set():
                now = time.monotonic()
                if now - last_house >= HOUSEKEEPING_EVERY:
                    last_house = now
                    self._housekeeping()
                if now - last_prune >= PRUNE_EVERY:
                    last_prune = now
                    self._prune()
                self.tick()
                self._stopping.wait(self.cfg.poll_interval)
            self._drain()
        finally:
            self._shutdown()

    def stop(self, drain: float = 0.0) -> None:
        """Stop taking jobs; running ones get ``drain`` seconds to finish."""
        self.drain_timeout = drain
        self._stopping.set()

    def interrupt_now(self) -> None:
        self.drain_timeout = 0.0
        self._stopping.set()
        with self._lock:
            runs = list(self.active.values())
        for ex in runs:
            ex.request_stop("interrupt", "worker stopping")

    def wait_stopped(self, timeout: float | None = None) -> bool:
        return self._stopped.wait(timeout)

    # -- the loop --------------------------------------------------------------------
    def tick(self) -> None:
        """One pass: cancel requests, then new runs while there is room."""
        try:
            self._pass_cancel_requests()
            if self._stopping.is_set() or self.fenced:
                return
            with self._lock:
                room = self.max_parallel - len(self.active)
            for c in claim(self.factory, self.id, self.cfg, self.settings, room):
                self._start_run(c.run_id)
        except SQLAlchemyError as exc:
            log.error("worker: database error: %s", _short_db_error(exc))

    def _pass_cancel_requests(self) -> None:
        with self._lock:
            ids = list(self.active)
        if not ids:
            return
        with self.factory() as s:
            rows = s.execute(select(JobRun.id, JobRun.cancel_requested_by).where(
                JobRun.id.in_(ids), JobRun.cancel_requested_at.is_not(None))).all()
        for run_id, by in rows:
            with self._lock:
                ex = self.active.get(run_id)
            if ex is not None and ex.stop_reason is None:
                log.info("run %s: cancel requested by %s", run_id, by)
                ex.request_stop("cancel", by or "")

    def _start_run(self, run_id: int) -> None:
        with self.factory() as s:
            run = s.get(JobRun, run_id)
            spec = RunSpec(run_id=run.id, kind=run.kind, playbook=run.playbook,
                           nodes=list(run.nodes), tenant_scope=run.tenant_scope,
                           tags=list(run.tags), extravars=dict(run.extravars),
                           timeout_s=run.timeout_s, private_data_dir=Path(run.private_data_dir))
        ex = RunExecution(spec, self.settings, self.cfg, self.writer,
                          on_pid=lambda pid, rid=run_id: self._record_pid(rid, pid),
                          on_done=self._finish_run)
        with self._lock:
            self.active[run_id] = ex
        log.info("run %s: %s %s on %s%s", run_id, spec.kind, spec.playbook,
                 ",".join(spec.nodes),
                 f" (tenants {','.join(spec.tenant_scope)})" if spec.tenant_scope else "")
        ex.start()

    def _record_pid(self, run_id: int, pid: int) -> None:
        start = procs.proc_start(pid)

        def store(session) -> None:
            session.execute(update(JobRun).where(JobRun.id == run_id)
                            .values(ansible_pid=pid, ansible_start=start))

        self.writer.call(store)

    def _finish_run(self, ex: RunExecution, result: RunResult) -> None:
        """Called in the run's thread once ansible-playbook is over and its events are
        stored: the run, its jobs and its node locks in one transaction."""
        run_id = ex.spec.run_id
        delay = 1.0
        while True:
            try:
                with self.factory() as s, s.begin():
                    run = s.get(JobRun, run_id)
                    if run is None or run.status != "running" or run.worker_id != self.id:
                        log.warning("run %s was taken over by recovery; not finishing it",
                                    run_id)
                    else:
                        requeued = close_run(
                            s, run, status=result.status, error=result.error, rc=result.rc,
                            host_results=result.host_results,
                            events_dropped=ex.sink.dropped + self.writer.lost)
                        log.info("run %s: %s%s%s", run_id, result.status,
                                 f" ({result.error})" if result.error else "",
                                 f"; re-queued as jobs {[j.id for j in requeued]}"
                                 if requeued else "")
                break
            except SQLAlchemyError as exc:
                log.error("run %s: storing the result failed (%s); retrying", run_id,
                          _short_db_error(exc))
                if self.fenced:
                    break
                time.sleep(delay)
                delay = min(delay * 2, 10.0)
        with self._lock:
            self.active.pop(run_id, None)

    # -- housekeeping ------------------------------------------------------------------
    def _housekeeping(self) -> None:
        try:
            recover(self.factory, self.id, self.me, self.cfg)
        except SQLAlchemyError as exc:
            log.error("worker: recovery failed: %s", _short_db_error(exc))
        if self.use_scheduler and not self.fenced:
            try:
                held = hold_lease(self.factory, SCHEDULER_LEASE, self.id)
            except SQLAlchemyError as exc:
                log.error("worker: scheduler lease: %s", _short_db_error(exc))
                held = self.scheduler is not None
            if held and self.scheduler is None:
                self._start_scheduler()
            elif not held and self.scheduler is not None:
                self._stop_scheduler()

    def _prune(self) -> None:
        try:
            prune(self.factory, self.settings, self.cfg)
        except (SQLAlchemyError, OSError) as exc:
            log.error("worker: pruning failed: %s", _short_db_error(exc))

    def _start_scheduler(self) -> None:
        from apscheduler.schedulers.background import BackgroundScheduler

        sched = BackgroundScheduler(timezone=UTC, job_defaults=dict(SCHEDULER_JOB_DEFAULTS))
        for name in SCHEDULE_MODULES:
            try:
                importlib.import_module(name).register(sched, self.settings)
            except Exception:  # noqa: BLE001 - one component's bug must not stop the others
                log.exception("scheduler: registering %s failed", name)
        sched.start()
        self.scheduler = sched
        log.info("scheduler started with %d job(s)", len(sched.get_jobs()))

    def _stop_scheduler(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
            self.scheduler = None
            log.info("scheduler stopped")

    # -- heartbeat and fencing -----------------------------------------------------------
    def _heartbeat_loop(self) -> None:
        while not self._stopped.is_set():
            try:
                with self.factory() as s, s.begin():
                    res = s.execute(update(JobWorker).where(JobWorker.id == self.id,
                                                            JobWorker.status == "alive")
                                    .values(heartbeat_at=db_now()))
                if res.rowcount == 0:
                    self._fence("another worker declared this one dead")
                    return
                self._last_heartbeat_ok = time.monotonic()
            except SQLAlchemyError as exc:
                log.error("worker: heartbeat failed: %s", _short_db_error(exc))
            silent = time.monotonic() - self._last_heartbeat_ok
            if silent > self.cfg.stale_after / 2:
                self._fence(f"no heartbeat stored for {silent:.0f} s (database unreachable)")
                return
            self._stopped.wait(self.cfg.heartbeat_interval)

    def _fence(self, why: str) -> None:
        """Stop everything at once: another worker may take our runs over soon."""
        if self.fenced:
            return
        self.fenced = why
        log.error("worker %s fenced: %s; stopping its runs", self.id, why)
        self._stop_scheduler()
        self.interrupt_now()

    # -- stopping ------------------------------------------------------------------------
    def _drain(self) -> None:
        deadline = time.monotonic() + self.drain_timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self.active:
                    return
            self._pass_cancel_requests_safe()
            time.sleep(0.2)
        self.interrupt_now()

    def _pass_cancel_requests_safe(self) -> None:
        try:
            self._pass_cancel_requests()
        except SQLAlchemyError:
            pass

    def _shutdown(self) -> None:
        self._stop_scheduler()
        with self._lock:
            runs = list(self.active.values())
        for ex in runs:
            ex.request_stop("interrupt", "worker stopping")
        for ex in runs:
            ex.thread.join(timeout=60)
        self.writer.stop()
        self.writer.join(timeout=30)
        try:
            with self.factory() as s, s.begin():
                release_leases(s, self.id)
                s.execute(update(JobWorker).where(JobWorker.id == self.id,
                                                  JobWorker.status == "alive")
                          .values(status="stopped", stopped_at=utcnow()))
        except SQLAlchemyError as exc:
            log.error("worker: could not record its stop: %s", _short_db_error(exc))
        self._stopped.set()
        if self._heartbeat.is_alive() and self._heartbeat is not threading.current_thread():
            self._heartbeat.join(timeout=30)  # it may be inside a transaction
        log.info("worker %s stopped%s", self.id, f" (fenced: {self.fenced})" if self.fenced
                 else "")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - unparsable: show nothing of it
        return "(invalid URL)"


def open_database(settings):
    """Migrate and connect, or raise one clear OemhostError (unreachable, bad URL...)."""
    try:
        migrate(settings.database_url)
        engine = make_engine(settings.database_url)
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        raise OemhostError(f"database {_safe_url(settings.database_url)}: cannot create it: "
                           f"{exc.strerror or exc}{where}") from None
    except SQLAlchemyError as exc:  # e.g. a malformed URL
        raise OemhostError(f"database: {_short_db_error(exc)}") from None
    except ValueError as exc:
        raise OemhostError(f"database: {exc}") from None
    check_connection(engine)
    return session_factory(engine)
