"""Fixtures of the jobs tests: a project of small playbooks, an inventory of local
"nodes" (``ansible_connection: local``), a database, and a worker in a thread."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from oemhost.config import load_settings
from oemhost.jobs.config import JobsConfig
from oemhost.jobs.worker import Worker, open_database

FIXTURES = Path(__file__).resolve().parent / "fixtures"
PROJECT = FIXTURES / "project"
LAB_PROJECT = FIXTURES / "lab_project"
NODES = ("n1", "n2", "n3")


def _toml(v) -> str:
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} = {_toml(x)}" for k, x in v.items()) + "}"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(v)


class JobEnv:
    def __init__(self, root: Path, jobs_cfg: dict, *, project: Path = PROJECT,
                 hosts: dict[str, dict] | None = None, database_url: str | None = None):
        """``hosts``: inventory host vars per node (default: local "nodes" n1..n3)."""
        self.root = root
        self.out = root / "out"
        self.inventory = root / "inventory"
        self.state = root / "state"
        self.out.mkdir()
        (self.inventory / "state" / "nodes").mkdir(parents=True)
        (self.inventory / "host_vars").mkdir()
        if hosts is None:
            hosts = {n: {"ansible_connection": "local",
                         "ansible_python_interpreter": "{{ ansible_playbook_python }}"}
                     for n in NODES}
        inventory = {"all": {"vars": {"oemhost_test_dir": str(self.out)},
                             "hosts": {n: dict(v) for n, v in hosts.items()}}}
        (self.inventory / "hosts.yml").write_text(json.dumps(inventory, indent=1))
        for n in hosts:
            (self.inventory / "state" / "nodes" / f"{n}.yml").write_text(
                f"name: {n}\naddress: 127.0.0.1\n")
        lines = ["[jobs]"] + [f"{k} = {_toml(v)}" for k, v in jobs_cfg.items()]
        self.config = root / "oemhost.toml"
        self.config.write_text("\n".join(lines) + "\n")
        self.env = {
            "OEMHOST_CONFIG": str(self.config),
            "OEMHOST_PROJECT_DIR": str(project),
            "OEMHOST_INVENTORY": str(self.inventory),
            "OEMHOST_STATE_DIR": str(self.state),
            "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        }
        if database_url:
            self.env["OEMHOST_DATABASE_URL"] = database_url
        self.settings = load_settings(self.env)
        self.cfg = JobsConfig.from_settings(self.settings)
        self.factory = open_database(self.settings)

    def log(self, node: str) -> list[tuple[str, float, str]]:
        """The converge.yml log of a node: (start|end, time, scope)."""
        path = self.out / f"{node}.log"
        if not path.exists():
            return []
        out = []
        for line in path.read_text().splitlines():
            parts = line.split()
            out.append((parts[0], float(parts[1]), parts[2] if len(parts) > 2 else ""))
        return out

    def intervals(self, node: str) -> list[tuple[float, float, str]]:
        entries = self.log(node)
        starts = [e for e in entries if e[0] == "start"]
        ends = [e for e in entries if e[0] == "end"]
        return [(s[1], e[1], s[2]) for s, e in zip(starts, ends, strict=False)]

    def submit(self, **kw):
        from oemhost.jobs.queue import submit

        kw.setdefault("requested_by", "test")
        with self.factory() as s, s.begin():
            job = submit(s, settings=self.settings, **kw)
            return job.id

    def wait(self, job_id: int, timeout: float = 120):
        from oemhost.jobs.queue import wait

        with self.factory() as s:
            return wait(s, job_id, timeout=timeout)

    def start_worker(self, **kw) -> RunningWorker:
        kw.setdefault("scheduler", False)
        w = Worker(self.settings, self.cfg, factory=self.factory, **kw)
        return RunningWorker(w)


class RunningWorker:
    def __init__(self, worker: Worker):
        self.worker = worker
        self.thread = threading.Thread(target=worker.run, daemon=True)
        self.thread.start()

    def stop(self, drain: float = 0.0) -> None:
        if drain:
            self.worker.stop(drain=drain)
        else:
            self.worker.interrupt_now()
        self.thread.join(timeout=90)
        assert not self.thread.is_alive(), "worker did not stop"


DEFAULT_JOBS_CFG = {"heartbeat_interval": 0.5, "stale_after": 10, "poll_interval": 0.1}


class PostgresServer:
    """A throwaway PostgreSQL (Debian's server binaries) on a private Unix socket."""

    BIN = Path("/usr/lib/postgresql/15/bin")

    def __init__(self, root: Path):
        self.root = root
        self.count = 0

    @classmethod
    def available(cls) -> bool:
        return os.geteuid() == 0 and (cls.BIN / "initdb").exists()

    def _pg(self, *args: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *args], check=True,
                       capture_output=True, timeout=120)

    def start(self) -> None:
        os.chown(self.root, pwd.getpwnam("postgres").pw_uid, -1)
        self._pg(str(self.BIN / "initdb"), "-D", f"{self.root}/data", "-A", "trust",
                 "-U", "postgres")
        self._pg(str(self.BIN / "pg_ctl"), "-D", f"{self.root}/data", "-l",
                 f"{self.root}/log", "-w", "-o",
                 f"-k {self.root} -c listen_addresses='' -p 5432 -c fsync=off", "start")

    def stop(self) -> None:
        self._pg(str(self.BIN / "pg_ctl"), "-D", f"{self.root}/data", "-m", "immediate",
                 "-w", "stop")

    def new_database(self) -> str:
        self.count += 1
        name = f"jobs{self.count}"
        self._pg(str(self.BIN.parent / "bin" / "psql"), "-h", str(self.root), "-U", "postgres",
                 "-qc", f"CREATE DATABASE {name}")
        return f"postgresql+psycopg://postgres@/{name}?host={self.root}&port=5432"


@pytest.fixture(scope="session")
def postgres():
    if not PostgresServer.available():
        pytest.skip("PostgreSQL server binaries (Debian postgresql) and root needed")
    # not under pytest's tmp dir: the postgres user must reach it
    root = Path(tempfile.mkdtemp(prefix="oemhost-test-pg-"))
    server = PostgresServer(root)
    try:
        server.start()
        yield server
        server.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture
def make_jobenv(tmp_path, request):
    """``make_jobenv(**jobs_settings)``: a JobEnv with its own [jobs] settings, on the
    backend the test is parametrized with (``jobenv`` param: sqlite | postgresql)."""
    made = []
    backend = getattr(request, "param", None) or "sqlite"

    def make(*, project: Path = PROJECT, hosts: dict | None = None, **cfg):
        root = tmp_path / f"env{len(made)}"
        root.mkdir()
        url = None
        if backend == "postgresql":
            url = request.getfixturevalue("postgres").new_database()
        env = JobEnv(root, dict(DEFAULT_JOBS_CFG, **cfg), project=project, hosts=hosts,
                     database_url=url)
        made.append(env)
        return env

    yield make
    for env in made:
        env.factory.kw["bind"].dispose()


@pytest.fixture
def jobenv(request, tmp_path):
    """A JobEnv; ``@pytest.mark.parametrize("jobenv", BACKENDS, indirect=True)`` runs a
    test on SQLite and on PostgreSQL."""
    backend = getattr(request, "param", "sqlite")
    url = request.getfixturevalue("postgres").new_database() if backend == "postgresql" \
        else None
    root = tmp_path / "env"
    root.mkdir()
    env = JobEnv(root, dict(DEFAULT_JOBS_CFG), database_url=url)
    yield env
    env.factory.kw["bind"].dispose()


@pytest.fixture
def worker(jobenv):
    w = jobenv.start_worker()
    yield w
    if w.thread.is_alive():
        w.stop()


@pytest.fixture
def wait_until():
    return _wait_until


def _wait_until(cond, timeout: float = 60, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")
