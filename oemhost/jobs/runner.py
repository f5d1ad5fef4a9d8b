"""One run: ansible-playbook through ansible-runner, in its own thread and private data dir.

What FACTS.md asks of every run, and where it is done here:

- a fresh private data dir per run (``<state_dir>/jobs/<run id>``, emptied first) and
  ``suppress_env_files``: nothing of an earlier run is reused;
- no secret in extra vars or environment variables: extra vars are ids only (checked by
  ``queue``), the worker's own environment is reduced to an allow-list before
  ansible-playbook starts (a database URL with a password must not reach the playbook,
  ``ps`` or ``artifacts/<ident>/command``); secrets reach plays through the inventory's
  controller-side files or Ansible Vault (``[jobs] vault_password_file``);
- our own ``cancel_callback`` (the default one is a signal handler that works only in the
  main thread): cancel and timeout send SIGTERM to ansible-playbook (which stops its forks),
  and let ansible-runner SIGKILL the process group after a grace period;
- a fast ``event_handler`` (``events.EventSink``: scrub and enqueue);
- success judged by ``status``/``rc``, not by the last events (which can be lost);
- after the run only scrubbed artifacts are kept (stdout, status, rc, job_events).
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from oemhost.jobs.config import CHECK_MODE_KINDS, JobsConfig
from oemhost.jobs.events import EventSink, EventWriter
from oemhost.jobs.results import ENV_NAME as RESULTS_ENV
from oemhost.jobs.results import RunInfo, deliver, results_dir

log = logging.getLogger("oemhost.jobs")

PLUGINS_DIR = Path(__file__).resolve().parent / "ansible_plugins"
IDENT = "run"
KEPT_ARTIFACTS = ("stdout", "stderr", "status", "rc", "job_events", "command")
# environment variables of the worker that ansible-playbook may see; everything else
# (OEMHOST_DATABASE_URL, tokens, ...) is removed
ENV_ALLOW = frozenset({"PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR",
                       "TERM", "SHELL", "VIRTUAL_ENV", "PYTHONPATH", "SSH_AUTH_SOCK",
                       "JOB_ID", "ORIGINAL_STDOUT_CALLBACK", "OEMHOST_WORKER_PID",
                       "OEMHOST_RESULTS_DIR"})
ENV_ALLOW_PREFIX = ("ANSIBLE_", "AWX_", "RUNNER_", "LC_")
STOP_GRACE = 5.0  # seconds between SIGTERM and SIGKILL on cancel/timeout


def clean_env(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k in ENV_ALLOW or k.startswith(ENV_ALLOW_PREFIX)}


@dataclass
class RunSpec:
    run_id: int
    kind: str
    playbook: str
    nodes: list[str]
    tenant_scope: list[str] | None
    tags: list[str]
    extravars: dict[str, Any]
    timeout_s: int
    private_data_dir: Path


@dataclass
class RunResult:
    status: str  # succeeded | failed | cancelled | timeout | interrupted
    rc: int | None
    error: str | None
    host_results: dict[str, dict[str, int]] = field(default_factory=dict)


class RunExecution:
    """Runs one :class:`RunSpec` in a thread; ``request_stop`` cancels it."""

    def __init__(self, spec: RunSpec, settings, cfg: JobsConfig, writer: EventWriter, *,
                 on_pid: Callable[[int], None] | None = None,
                 on_done: Callable[[RunExecution, RunResult], None] | None = None):
        self.spec = spec
        self.settings = settings
        self.cfg = cfg
        self.writer = writer
        self.on_done = on_done
        self.sink = EventSink(spec.run_id, writer, max_events=cfg.max_events_per_run,
                              max_stdout=cfg.max_stdout_chars, on_pid=on_pid)
        self.result: RunResult | None = None
        self.stop_reason: str | None = None  # cancel | timeout | interrupt
        self.stop_detail = ""
        self._deadline = time.monotonic() + spec.timeout_s
        self._term_sent: float | None = None
        self._lock = threading.Lock()
        self.thread = threading.Thread(target=self._main, daemon=True,
                                       name=f"oemhost-run-{spec.run_id}")

    # -- control -------------------------------------------------------------------
    def start(self) -> None:
        self.thread.start()

    def request_stop(self, reason: str, detail: str = "") -> None:
        with self._lock:
            if self.stop_reason is None:
                self.stop_reason, self.stop_detail = reason, detail

    def is_alive(self) -> bool:
        return self.thread.is_alive()

    def _should_cancel(self) -> bool:
        """ansible-runner's cancel_callback: called from its output loop (about twice a
        second with our pexpect_timeout). SIGTERM first, SIGKILL (by runner) later."""
        if self.stop_reason is None and time.monotonic() > self._deadline:
            self.request_stop("timeout")
        if self.stop_reason is None:
            return False
        if self._term_sent is None:
            self._term_sent = time.monotonic()
            pid = self.sink.ansible_pid
            if pid:
                try:
                    os.kill(pid, signal.SIGTERM)
                    return False
                except ProcessLookupError:
                    return True
            return True
        return time.monotonic() - self._term_sent > STOP_GRACE

    # -- the run -------------------------------------------------------------------
    def _main(self) -> None:
        try:
            result = self._execute()
        except Exception as exc:  # noqa: BLE001 - any failure to start is the run's failure
            log.exception("run %s: could not run ansible-playbook", self.spec.run_id)
            result = RunResult("failed", None, f"could not run ansible-playbook: {exc}",
                               self.sink.host_results())
        try:
            deliver(self.settings, RunInfo(self.spec.run_id, self.spec.kind,
                                           self.spec.playbook, list(self.spec.nodes),
                                           result.status),
                    results_dir(self.spec.private_data_dir))
        except Exception:  # noqa: BLE001 - results are best effort, the run's status stands
            log.exception("run %s: delivering results failed", self.spec.run_id)
        try:
            self.keep_only_scrubbed_artifacts()
        except OSError as exc:
            log.error("run %s: cleaning artifacts failed: %s", self.spec.run_id, exc)
        self.writer.flush(timeout=120)
        self.result = result
        if self.on_done is not None:
            self.on_done(self, result)

    def _prepare_dir(self) -> Path:
        pdd = self.spec.private_data_dir
        if pdd.exists():
            shutil.rmtree(pdd)
        pdd.mkdir(parents=True, mode=0o700)
        env = pdd / "env"
        env.mkdir(mode=0o700)
        results_dir(pdd).mkdir(mode=0o700)
        # not secret: how often runner's loop looks at the cancel callback
        (env / "settings").write_text(json.dumps({"pexpect_timeout": 0.5}))
        return pdd

    def build_kwargs(self, pdd: Path) -> dict[str, Any]:
        s = self.settings
        if not s.inventory_dir.is_dir():
            raise FileNotFoundError(f"inventory {s.inventory_dir} not found")
        playbook = s.playbooks_dir / self.spec.playbook
        if not playbook.is_file():
            raise FileNotFoundError(f"playbook {playbook} not found")
        extravars = dict(self.spec.extravars)
        if self.spec.tenant_scope is not None:
            extravars["oemhost_tenant_scope"] = list(self.spec.tenant_scope)
        venv_bin = str(Path(sys.executable).parent)
        envvars = {
            "ANSIBLE_CONFIG": str(s.project_dir / "ansible.cfg"),
            "PATH": f"{venv_bin}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "ANSIBLE_NOCOLOR": "1",
            # ansible-runner's env setting wins over ansible.cfg's callback_plugins: the
            # project's own (oemhost_ansiballz_cache) are named here again
            "ANSIBLE_CALLBACK_PLUGINS": os.pathsep.join(
                (str(PLUGINS_DIR / "callback"), str(s.project_dir / "plugins" / "callback"))),
            "OEMHOST_WORKER_PID": str(os.getpid()),
            RESULTS_ENV: str(results_dir(pdd)),
        }
        args = []
        if self.spec.kind in CHECK_MODE_KINDS:
            args += ["--check", "--diff"]
        if self.cfg.vault_password_file:
            args += ["--vault-password-file", str(Path(self.cfg.vault_password_file).resolve())]
        cmdline = shlex.join(args) if args else None
        return dict(
            private_data_dir=str(pdd), ident=IDENT, project_dir=str(s.project_dir),
            playbook=str(playbook), inventory=str(s.inventory_dir),
            limit=",".join(self.spec.nodes), tags=",".join(self.spec.tags) or None,
            extravars=extravars or None, envvars=envvars, cmdline=cmdline,
            suppress_env_files=True, quiet=True,
            cancel_callback=self._should_cancel, event_handler=self.sink,
        )

    def _execute(self) -> RunResult:
        from ansible_runner.interface import init_runner

        pdd = self._prepare_dir()
        runner = init_runner(**self.build_kwargs(pdd))
        runner.config.env = clean_env(runner.config.env)
        if self.stop_reason is not None:  # stopped before it started
            return self._stopped_result(None)
        try:
            status, rc = runner.run()
        finally:
            self.sink.finish()
        if self.stop_reason is not None:
            return self._stopped_result(rc)
        hosts = self.sink.host_results()
        if status == "successful" and rc == 0:
            return RunResult("succeeded", rc, None, hosts)
        error = self.sink.first_failure or (self.sink.errors[0] if self.sink.errors else None)
        return RunResult("failed", rc, error or f"ansible-playbook failed ({status}, rc {rc})",
                         hosts)

    def _stopped_result(self, rc: int | None) -> RunResult:
        hosts = self.sink.host_results()
        if self.stop_reason == "timeout":
            return RunResult("timeout", rc, f"timed out after {self.spec.timeout_s} s", hosts)
        if self.stop_reason == "cancel":
            return RunResult("cancelled", rc, f"cancelled by {self.stop_detail or 'a user'}",
                             hosts)
        return RunResult("interrupted", rc, f"interrupted: {self.stop_detail or 'stopped'}",
                         hosts)

    def keep_only_scrubbed_artifacts(self) -> None:
        keep_only_scrubbed_artifacts(self.spec.private_data_dir)


def keep_only_scrubbed_artifacts(pdd: Path) -> None:
    """Remove from a private data dir everything but the scrubbed artifacts of the run.

    Also used by recovery on the dir of a run whose worker died (partial event files there
    can hold unscrubbed results)."""
    if not pdd.is_dir():
        return
    for p in pdd.iterdir():
        if p.name != "artifacts":
            _remove(p)
    art_root = pdd / "artifacts"
    if not art_root.is_dir():
        return
    for ident_dir in art_root.iterdir():
        if not ident_dir.is_dir():
            _remove(ident_dir)
            continue
        for p in ident_dir.iterdir():
            if p.name not in KEPT_ARTIFACTS:
                _remove(p)
        events = ident_dir / "job_events"
        if events.is_dir():
            for p in events.iterdir():
                if p.name.endswith(("-partial.json", ".tmp")) or p.is_dir():
                    _remove(p)
        command = ident_dir / "command"
        if command.is_file():  # keep the command line, not the environment
            try:
                data = json.loads(command.read_text(encoding="utf-8"))
                command.write_text(json.dumps({"command": data.get("command"),
                                               "cwd": data.get("cwd")}))
            except (ValueError, OSError, AttributeError):
                _remove(command)


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    else:
        p.unlink(missing_ok=True)
