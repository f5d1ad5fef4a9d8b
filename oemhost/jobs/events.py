"""ansible-runner events: scrubbed in the handler, stored in batches by a writer thread.

The handler runs inline in ansible-runner's output loop (FACTS.md: keep it fast or pexpect
times out), so it only scrubs the event, turns it into a small record and enqueues it. A
single writer thread per worker stores the records in batches.

Scrubbing happens in place on the event dict that ansible-runner then writes to
``artifacts/<ident>/job_events/``, so the kept artifacts are as clean as the database:
task arguments are never kept, module results are reduced to a few status keys, and a
``no_log`` result keeps nothing but "censored".

What is stored is bounded: one record per meaningful event (not per output line), stdout
cut to ``max_stdout_chars``, at most ``max_events_per_run`` records per run (failures, play
starts and the recap always), pruned by age with the artifacts (see ``prune``).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from oemhost.db.models.jobs import JobEvent, JobRun, utcnow

log = logging.getLogger("oemhost.jobs")

CENSORED = ("the output has been hidden due to the fact that 'no_log: true' was specified "
            "for this result")
# event_data keys kept (everything else, e.g. task_args, item, diff, is dropped)
KEEP_DATA = frozenset({
    "playbook", "playbook_uuid", "play", "play_uuid", "play_pattern", "name", "task",
    "task_uuid", "task_action", "resolved_action", "task_path", "role", "host",
    "remote_addr", "res", "changed", "ignore_errors", "start", "end", "duration", "uuid",
    "pid", "is_conditional", "handler", "event_loop", "ok", "failures", "dark", "skipped",
    "processed", "ignored", "rescued", "artifact_data",
})
KEEP_RES = ("changed", "failed", "skipped", "unreachable", "msg", "rc", "censored")
MAX_MSG = 1000
# stored even past the per-run cap (bounded at twice the cap)
ALWAYS = frozenset({"playbook_on_stats", "runner_on_failed", "runner_on_unreachable",
                    "playbook_on_play_start", "error", "runner_on_async_failed"})
HOST_STATUS = {
    "runner_on_ok": "ok", "runner_on_failed": "failed", "runner_on_unreachable": "unreachable",
    "runner_on_skipped": "skipped", "runner_on_async_ok": "ok",
    "runner_on_async_failed": "failed", "runner_item_on_ok": "ok",
    "runner_item_on_failed": "failed", "runner_item_on_skipped": "skipped",
}
STATS_KEYS = {"ok": "ok", "changed": "changed", "failures": "failed", "dark": "unreachable",
              "skipped": "skipped", "rescued": "rescued", "ignored": "ignored"}


def _short(value: Any, limit: int = MAX_MSG) -> Any:
    if isinstance(value, bool | int | float) or value is None:
        return value
    value = value if isinstance(value, str) else str(value)
    return value[:limit] + " [...]" if len(value) > limit else value


def scrub_res(res: Any) -> dict[str, Any]:
    if not isinstance(res, dict):
        return {}
    if res.get("_ansible_no_log") or "censored" in res:
        out = {"censored": CENSORED}
        for key in ("changed", "failed", "skipped", "unreachable"):
            if key in res:
                out[key] = bool(res[key])
        return out
    return {k: _short(res[k]) for k in KEEP_RES if k in res}


def scrub(event: dict[str, Any]) -> None:
    """Reduce an ansible-runner event to what may be kept, in place."""
    data = event.get("event_data")
    if not isinstance(data, dict):
        return
    for key in list(data):
        if key not in KEEP_DATA:
            del data[key]
    if "res" in data:
        data["res"] = scrub_res(data["res"])
    if event.get("event") == "runner_on_file_diff":
        event["stdout"] = "(diff not kept)"


def _created(event: dict[str, Any]) -> datetime:
    try:
        ts = datetime.fromisoformat(event["created"])
        return ts if ts.tzinfo else ts.replace(tzinfo=utcnow().tzinfo)
    except (KeyError, TypeError, ValueError):
        return utcnow()


@dataclass
class EventSink:
    """The per-run ``event_handler``: scrub, count, enqueue; decides what is stored."""

    run_id: int
    writer: EventWriter
    max_events: int = 3000
    max_stdout: int = 4000
    seq: int = 0
    stored: int = 0
    dropped: int = 0
    ansible_pid: int | None = None
    stats: dict[str, dict[str, int]] | None = None
    counts: dict[str, dict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: dict.fromkeys(
            ("ok", "changed", "failed", "unreachable", "skipped"), 0)))
    first_failure: str | None = None
    _first_failure_hidden: bool = False
    errors: list[str] = field(default_factory=list)
    on_pid: Any = None
    _verbose: list[str] = field(default_factory=list)
    _verbose_start: dict[str, Any] | None = None
    _verbose_len: int = 0

    def __call__(self, event: dict[str, Any]) -> bool:
        try:
            self._handle(event)
        except Exception:  # noqa: BLE001 - never break ansible-runner's output loop
            log.exception("run %s: event handler failed", self.run_id)
            self.dropped += 1
        return True  # ansible-runner writes the (scrubbed) event to job_events/

    def _handle(self, event: dict[str, Any]) -> None:
        scrub(event)
        etype = str(event.get("event") or "verbose")
        data = event.get("event_data") or {}
        if etype == "verbose":
            # raw output lines (warnings, tracebacks): one record per block, not per line
            line = str(event.get("stdout") or "")
            if line.lstrip().startswith("ERROR") and len(self.errors) < 5:
                self.errors.append(_short(line.strip(), 300))
            if self._verbose and (len(self._verbose) >= 200 or self._verbose_len + len(line)
                                  + len(self._verbose) > self.max_stdout):
                self.flush_verbose()  # a block never needs cutting (unless one huge line)
            if not self._verbose:
                self._verbose_start = event
            self._verbose.append(line)
            self._verbose_len += len(line)
            return
        self.flush_verbose()
        if self.ansible_pid is None and isinstance(event.get("pid"), int):
            self.ansible_pid = event["pid"]
            if self.on_pid is not None:
                self.on_pid(self.ansible_pid)
        host = data.get("host") or data.get("remote_addr")
        res = data.get("res") or {}
        status = HOST_STATUS.get(etype)
        if status == "ok" and res.get("changed"):
            status = "changed"
        if status == "failed" and data.get("ignore_errors"):
            status = "ignored"
        record_data: dict[str, Any] | None = None
        if etype.startswith("runner_on_") and host and status:
            self.counts[host][status if status != "ignored" else "ok"] += 1
            if status == "changed":
                self.counts[host]["ok"] += 1
        if status in ("failed", "unreachable"):
            msg = res.get("msg") or res.get("censored") or ""
            record_data = {"msg": _short(msg)} if msg else None
            # the job's error: the first failure, unless its result was hidden (no_log)
            # and a later one says why (a rescue reporting the hidden task's message)
            if self.first_failure is None or (self._first_failure_hidden
                                              and msg and msg != CENSORED):
                self.first_failure = f"{host}: {data.get('task') or '?'}: {status}" + (
                    f": {_short(msg, 300)}" if msg else "")
                self._first_failure_hidden = msg in ("", CENSORED)
        stdout = str(event.get("stdout") or "")
        if etype == "error" and stdout.strip():
            self.errors.append(_short(stdout.strip(), 300))
        if etype == "playbook_on_stats":
            self.stats = {}
            for key, mapped in STATS_KEYS.items():
                for h, n in (data.get(key) or {}).items():
                    self.stats.setdefault(h, dict.fromkeys(STATS_KEYS.values(), 0))[mapped] = n
            record_data = {"hosts": self.stats}
            status = "recap"
        # what is stored: results, task/play headers, warnings, errors, the recap; not
        # runner_on_start and other events without output
        if not stdout.strip() and etype not in ALWAYS:
            return
        self._store(etype, event, data, host, status, stdout, record_data)

    def _store(self, etype: str, event: dict[str, Any], data: dict[str, Any], host: Any,
               status: str | None, stdout: str, record_data: dict[str, Any] | None) -> None:
        cap = self.max_events * 2 if etype in ALWAYS else self.max_events
        if self.stored >= cap:
            self.dropped += 1
            return
        stdout = stdout.replace("\r\n", "\n").strip("\n")
        if len(stdout) > self.max_stdout:
            stdout = stdout[: self.max_stdout] + "\n[... output cut]"
        self.seq += 1
        self.stored += 1
        self.writer.put(JobEvent(
            run_id=self.run_id, seq=self.seq, created_at=_created(event), event=etype[:40],
            play=_short(data.get("play"), 300), task=_short(data.get("task"), 300),
            host=_short(host, 100), status=status, stdout=stdout, data=record_data))

    def flush_verbose(self) -> None:
        if not self._verbose:
            return
        lines, self._verbose, self._verbose_len = self._verbose, [], 0
        stdout = "\n".join(lines)
        if stdout.strip():
            self._store("verbose", self._verbose_start or {}, {}, None, None, stdout, None)

    def finish(self) -> None:
        """The run is over: store what is still buffered."""
        self.flush_verbose()

    def host_results(self) -> dict[str, dict[str, int]]:
        """Per-host recap: ansible's own stats when the event arrived, else counted events."""
        if self.stats is not None:
            return self.stats
        return {h: dict(c) for h, c in self.counts.items()}


class EventWriter(threading.Thread):
    """Stores queued events in batches; ``flush()`` waits until everything queued is stored."""

    def __init__(self, session_factory, *, batch: int = 500, interval: float = 0.2,
                 max_backlog: int = 50000):
        super().__init__(name="oemhost-event-writer", daemon=True)
        self.factory = session_factory
        self.batch = batch
        self.interval = interval
        self.max_backlog = max_backlog
        self.q: queue.Queue = queue.Queue()
        self._stopping = threading.Event()
        self._failures = 0
        self.lost = 0

    def put(self, item: Any) -> None:
        if self.q.qsize() > self.max_backlog and isinstance(item, JobEvent) \
                and item.event not in ALWAYS:
            self.lost += 1  # the database is not keeping up (or is gone): keep memory bounded
            return
        self.q.put(item)

    def flush(self, timeout: float | None = None) -> bool:
        done = threading.Event()
        self.q.put(done)
        return done.wait(timeout)

    def stop(self) -> None:
        self._stopping.set()
        self.q.put(None)

    def run(self) -> None:
        pending: list[JobEvent] = []
        waiters: list[threading.Event] = []
        while True:
            try:
                item = self.q.get(timeout=self.interval)
            except queue.Empty:
                item = False
            stop = item is None
            if isinstance(item, threading.Event):
                waiters.append(item)
            elif item is not False and item is not None:
                pending.append(item)
            while len(pending) < self.batch:  # drain what is there
                try:
                    more = self.q.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                elif isinstance(more, threading.Event):
                    waiters.append(more)
                elif more is not False:
                    pending.append(more)
            if pending:
                if self._store(pending):
                    pending, self._failures = [], 0
                else:
                    self._failures += 1
                    if self._failures >= 10 or (stop and self._stopping.is_set()):
                        log.error("dropping %d events after %d failed attempts",
                                  len(pending), self._failures)
                        self.lost += len(pending)
                        pending, self._failures = [], 0
                    else:
                        time.sleep(1)  # database trouble: keep the batch, try again
            if not pending:
                for w in waiters:
                    w.set()
                waiters = []
            if stop and self.q.empty() and not pending:
                for w in waiters:
                    w.set()
                return

    def call(self, fn: Callable[[Session], None]) -> None:
        """Run ``fn(session)`` in the writer's next transaction (small run updates)."""
        self.q.put(fn)

    def _store(self, items: list[Any]) -> bool:
        per_run: dict[int, int] = defaultdict(int)
        events = [ev for ev in items if isinstance(ev, JobEvent)]
        for ev in events:
            per_run[ev.run_id] += 1
        try:
            with self.factory() as session, session.begin():
                session.add_all(events)
                for fn in items:
                    if not isinstance(fn, JobEvent):
                        fn(session)
                for run_id, n in per_run.items():
                    session.execute(update(JobRun).where(JobRun.id == run_id)
                                    .values(events_stored=JobRun.events_stored + n))
            return True
        except SQLAlchemyError as exc:
            log.error("storing %d events failed: %s", len(items), str(exc).splitlines()[0])
            # the objects were attached to a failed session: store fresh copies next time
            for i, ev in enumerate(items):
                if not isinstance(ev, JobEvent):
                    continue
                items[i] = JobEvent(run_id=ev.run_id, seq=ev.seq, created_at=ev.created_at,
                                     event=ev.event, play=ev.play, task=ev.task, host=ev.host,
                                     status=ev.status, stdout=ev.stdout, data=ev.data)
            return False
