"""A lab of real Debian 12 nodes on this machine.

Each node is the cached image under an overlay (its own upper layer), a btrfs disk image
loop-mounted at ``/srv`` (so per-area qgroup quotas work), its own network namespace joined
to the lab's bridge by a veth pair, and its own systemd booted by systemd-nspawn. The lab's
names and its /24 derive from the checkout path and the lab name, so two checkouts, or a
test lab beside the demo lab, never collide. ``state.json`` in the lab directory records
what exists; :meth:`Lab.sweep` also finds what a crashed run left without it.
"""

from __future__ import annotations

import fcntl
import hashlib
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from oemhost.lab import image
from oemhost.lab.system import LabError, preflight, run

NSPAWN_RUNTIME = Path("/run/systemd/nspawn")
NAME_RE = r"^[a-z][a-z0-9-]{0,23}$"
MAX_NODES = 20
SRV_SIZE = "8G"  # sparse


@dataclass
class NodeState:
    name: str
    index: int
    address: str
    machine: str
    netns: str
    veth: str
    pid: int = 0
    cut: bool = False


@dataclass
class LabState:
    name: str
    lab_id: str
    subnet: str
    bridge: str
    image: str
    nodes: dict[str, NodeState] = field(default_factory=dict)


def _lab_id(project_dir: Path, name: str) -> str:
    return hashlib.sha256(f"{project_dir.resolve()}:{name}".encode()).hexdigest()[:6]


def _used_networks() -> list[ipaddress.IPv4Network]:
    out = run(["ip", "-j", "-4", "addr", "show"], check=False).stdout or "[]"
    nets = []
    for link in json.loads(out):
        for a in link.get("addr_info", []):
            nets.append(ipaddress.ip_network(f"{a['local']}/{a['prefixlen']}", strict=False))
    out = run(["ip", "-j", "-4", "route", "show", "table", "all"], check=False).stdout or "[]"
    for r in json.loads(out):
        dst = r.get("dst", "")
        if dst and dst != "default" and "/" in dst:
            nets.append(ipaddress.ip_network(dst, strict=False))
    return nets


def _pick_subnet(lab_id: str) -> ipaddress.IPv4Network:
    """A free 10.X.Y.0/24 derived from the lab id (the next free one on collision)."""
    used = _used_networks()
    start = int(lab_id, 16)
    for step in range(4096):
        n = (start + step) % (120 * 256)
        net = ipaddress.ip_network(f"10.{120 + n // 256}.{n % 256}.0/24")
        if not any(net.overlaps(u) for u in used):
            return net
    raise LabError("no free 10.120-239.x.0/24 network for the lab")


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


class Lab:
    """One named lab of one checkout. All methods need root."""

    def __init__(self, project_dir: Path, name: str = "lab", *,
                 inventory_dir: Path | None = None):
        import re

        if not re.match(NAME_RE, name):
            raise LabError(f"lab name {name!r} must match {NAME_RE}")
        self.project_dir = project_dir.resolve()
        self.name = name
        self.lab_id = _lab_id(self.project_dir, name)
        self.dir = self.project_dir / ".lab" / name
        self.prefix = f"oh{self.lab_id}"
        self.inventory_dir = inventory_dir

    # -- paths and state -------------------------------------------------------------
    @property
    def key_file(self) -> Path:
        return self.dir / "ssh" / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.dir / "ssh" / "known_hosts"

    def node_dir(self, node: str) -> Path:
        return self.dir / "nodes" / node

    def load_state(self) -> LabState | None:
        try:
            raw = json.loads((self.dir / "state.json").read_text())
        except (OSError, ValueError):
            return None
        nodes = {k: NodeState(**v) for k, v in raw.pop("nodes", {}).items()}
        return LabState(**raw, nodes=nodes)

    def _save_state(self, state: LabState) -> None:
        tmp = self.dir / "state.json.tmp"
        tmp.write_text(json.dumps(asdict(state), indent=2))
        os.replace(tmp, self.dir / "state.json")

    @contextmanager
    def _locked(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / ".lock", "w") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            yield

    # -- status ------------------------------------------------------------------------
    def status(self) -> dict:
        state = self.load_state()
        if not state:
            return {"name": self.name, "id": self.lab_id, "up": False, "nodes": []}
        nodes = []
        for n in state.nodes.values():
            running = _pid_alive(n.pid)
            nodes.append({"name": n.name, "address": n.address, "machine": n.machine,
                          "running": running, "network": "cut" if n.cut else "up",
                          "ssh": running and self._ssh_port_open(n.address, timeout=0.5)})
        return {"name": self.name, "id": self.lab_id, "subnet": state.subnet,
                "up": bool(nodes) and all(n["running"] for n in nodes),
                "key_file": str(self.key_file), "known_hosts": str(self.known_hosts),
                "inventory": str(self.inventory_dir) if self.inventory_dir else None,
                "nodes": nodes}

    # -- up / down ---------------------------------------------------------------------
    def up(self, nodes: int = 2, *, reuse: bool = False, progress=print) -> dict:
        if not isinstance(nodes, int) or not 1 <= nodes <= MAX_NODES:
            raise LabError(f"--nodes must be a whole number from 1 to {MAX_NODES}")
        preflight(need_debootstrap=image.image_rootfs() is None)
        with self._locked():
            state = self.load_state()
            if state and state.nodes and any(_pid_alive(n.pid) for n in state.nodes.values()):
                if reuse and len(state.nodes) == nodes and self.status()["up"]:
                    progress(f"lab {self.name} is already up with {nodes} node(s)")
                    return self.status()
                raise LabError(f"lab {self.name!r} is already up with {len(state.nodes)} "
                               f"node(s); run 'oemhost lab down"
                               f"{'' if self.name == 'lab' else ' --name ' + self.name}' first")
            self._sweep(progress)  # whatever a crashed run left behind
            rootfs = image.build_image(progress)
            t0 = time.monotonic()
            try:
                state = self._create(nodes, rootfs)
                self._boot_all(state)
                self._wait_ssh(state)
                if self.inventory_dir:
                    self._write_inventory(state)
            except BaseException:
                progress("lab up failed; removing what was built")
                self._sweep(lambda _m: None)
                raise
            progress(f"lab {self.name}: {nodes} node(s) up in {time.monotonic() - t0:.1f} s "
                     f"on {state.subnet}")
            return self.status()

    def down(self, progress=print) -> None:
        preflight(need_debootstrap=False)
        with self._locked():
            state = self.load_state()
            self._sweep(progress)
            if self.inventory_dir and state:
                self._remove_from_inventory(state)

    # -- node operations (fault injection and level-2 reboot) ---------------------------
    def _node(self, state: LabState | None, node: str) -> NodeState:
        if not state or node not in state.nodes:
            raise LabError(f"lab {self.name!r} has no node {node!r}")
        return state.nodes[node]

    def crash(self, node: str) -> None:
        """Kill the node hard, like a machine losing power."""
        with self._locked():
            state = self.load_state()
            self._kill(self._node(state, node))

    def cut(self, node: str) -> None:
        """Cut the node's network (its host-side veth goes down)."""
        with self._locked():
            state = self.load_state()
            n = self._node(state, node)
            run(["ip", "link", "set", n.veth, "down"])
            n.cut = True
            self._save_state(state)

    def restore(self, node: str) -> None:
        """Undo :meth:`cut`."""
        with self._locked():
            state = self.load_state()
            n = self._node(state, node)
            run(["ip", "link", "set", n.veth, "up"])
            n.cut = False
            self._save_state(state)

    def restart(self, node: str, *, wait: bool = True) -> None:
        """Power-cycle the node (the lab's infrastructure reboot): kill if running, boot."""
        with self._locked():
            state = self.load_state()
            n = self._node(state, node)
            self._kill(n)
            self._boot(state, n)
            self._save_state(state)
        if wait:
            self._wait_ssh(state, only=[n])

    # -- building ----------------------------------------------------------------------
    def _create(self, count: int, rootfs: Path) -> LabState:
        bridge = f"{self.prefix}br"
        (self.dir / "nodes").mkdir(parents=True, exist_ok=True)
        self._make_key()
        # the choice of a free /24 and taking it must not race with another lab's
        with open("/run/oemhost-lab-net.lock", "w") as netlock:
            fcntl.flock(netlock, fcntl.LOCK_EX)
            subnet = _pick_subnet(self.lab_id)
            state = LabState(name=self.name, lab_id=self.lab_id, subnet=str(subnet),
                             bridge=bridge, image=str(rootfs))
            self._save_state(state)  # from here on, sweep knows what to remove
            hosts = list(subnet.hosts())
            run(["ip", "link", "add", bridge, "type", "bridge"])
            run(["ip", "addr", "add", f"{hosts[0]}/{subnet.prefixlen}", "dev", bridge])
        run(["ip", "link", "set", bridge, "up"])
        for i in range(1, count + 1):
            name = f"node{i}"
            n = NodeState(name=name, index=i, address=str(hosts[9 + i]),
                          machine=f"{self.prefix}-{name}", netns=f"{self.prefix}-{name}",
                          veth=f"{self.prefix}v{i}")
            state.nodes[name] = n
            self._save_state(state)
            self._make_node_fs(state, n, rootfs)
            self._make_node_net(state, n, str(hosts[0]), subnet.prefixlen)
        self._write_known_hosts(state)
        return state

    def _make_key(self) -> None:
        if not self.key_file.exists():
            self.key_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"oemhost-{self.name}",
                 "-f", str(self.key_file)])

    def _make_node_fs(self, state: LabState, n: NodeState, rootfs: Path) -> None:
        d = self.node_dir(n.name)
        for sub in ("upper", "work", "root"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        root = d / "root"
        run(["mount", "-t", "overlay", "overlay", "-o",
             f"lowerdir={rootfs},upperdir={d / 'upper'},workdir={d / 'work'}", str(root)])
        img = d / "srv.img"
        run(["truncate", "-s", SRV_SIZE, str(img)])
        run(["mkfs.btrfs", "-q", "-L", f"{n.name}-srv", str(img)])
        (root / "srv").mkdir(exist_ok=True)
        run(["mount", "-o", "loop", str(img), str(root / "srv")])
        # identity of this node: host name, machine id, SSH host keys, our key for root
        (root / "etc/hostname").write_text(f"{n.name}\n")
        hosts = "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n"
        hosts += "".join(f"{o.address} {o.name}\n" for o in state.nodes.values())
        (root / "etc/hosts").write_text(hosts)
        (root / "etc/machine-id").write_text(uuid.uuid4().hex + "\n")
        (root / "etc/resolv.conf").unlink(missing_ok=True)
        (root / "etc/resolv.conf").write_text("nameserver 127.0.0.1\noptions timeout:1\n")
        run(["ssh-keygen", "-q", "-A", "-f", str(root)])
        ssh = root / "root/.ssh"
        ssh.mkdir(mode=0o700, exist_ok=True)
        shutil.copy(f"{self.key_file}.pub", ssh / "authorized_keys")
        os.chmod(ssh / "authorized_keys", 0o600)

    def _make_node_net(self, state: LabState, n: NodeState, gw: str, plen: int) -> None:
        run(["ip", "netns", "add", n.netns])
        run(["ip", "link", "add", n.veth, "type", "veth", "peer", "name", "eth0",
             "netns", n.netns])
        run(["ip", "link", "set", n.veth, "master", state.bridge])
        run(["ip", "link", "set", n.veth, "up"])
        ns = ["ip", "-n", n.netns]
        run([*ns, "link", "set", "lo", "up"])
        run([*ns, "addr", "add", f"{n.address}/{plen}", "dev", "eth0"])
        run([*ns, "link", "set", "eth0", "up"])
        run([*ns, "route", "add", "default", "via", gw])

    def _write_known_hosts(self, state: LabState) -> None:
        lines = []
        for n in state.nodes.values():
            for pub in sorted((self.node_dir(n.name) / "root/etc/ssh").glob("ssh_host_*.pub")):
                kind, key = pub.read_text().split()[:2]
                lines.append(f"{n.address} {kind} {key}\n")
        self.known_hosts.write_text("".join(lines))

    def _boot_all(self, state: LabState) -> None:
        for n in state.nodes.values():
            self._boot(state, n)
            self._save_state(state)

    def _boot(self, state: LabState, n: NodeState) -> None:
        NSPAWN_RUNTIME.mkdir(parents=True, exist_ok=True)
        if run(["mountpoint", "-q", str(NSPAWN_RUNTIME)], check=False).returncode != 0:
            run(["mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", str(NSPAWN_RUNTIME)])
        d = self.node_dir(n.name)
        env = dict(os.environ, SYSTEMD_NSPAWN_LOCK="0")
        argv = ["systemd-nspawn", "--boot", "--register=no", "--keep-unit", "--quiet",
                f"--network-namespace-path=/run/netns/{n.netns}", "-D", str(d / "root"),
                f"--machine={n.machine}", "--resolv-conf=off", "--timezone=off",
                "--console=read-only", "--link-journal=no",
                # its own network namespace: nftables (the common role) needs NET_ADMIN
                "--capability=CAP_NET_ADMIN"]
        # Started through a shell that exits at once, so the node outlives this process
        # (PID 1 adopts it) and no Popen object is left waiting for it. The arguments are
        # positional parameters, never parsed as shell words.
        with open(d / "console.log", "ab") as log:
            out = subprocess.run(["sh", "-c", '"$@" </dev/null >&2 & echo $!', "sh", *argv],
                                 stdout=subprocess.PIPE, stderr=log, env=env, check=True,
                                 start_new_session=True, close_fds=True, text=False)
        # the shell's stdout is a pipe; the node's output goes to the console log
        n.pid = int(out.stdout.split()[-1])

    def _ssh_port_open(self, address: str, timeout: float) -> bool:
        try:
            with socket.create_connection((address, 22), timeout=timeout) as s:
                s.settimeout(timeout)
                return s.recv(4).startswith(b"SSH")
        except OSError:
            return False

    def _wait_ssh(self, state: LabState, only: list[NodeState] | None = None,
                  timeout: float = 120) -> None:
        for n in only or list(state.nodes.values()):
            last = {"why": "port 22 closed"}

            def ready(n=n, last=last) -> bool:
                if not _pid_alive(n.pid):
                    raise LabError(f"{n.name} stopped while booting; see "
                                   f"{self.node_dir(n.name) / 'console.log'}")
                if not self._ssh_port_open(n.address, 2):
                    return False
                try:
                    proc = self.ssh(n.name, "systemctl is-system-running --wait >/dev/null; "
                                    "true", timeout=60)
                except subprocess.TimeoutExpired:
                    last["why"] = "ssh timed out"
                    return False
                last["why"] = proc.stderr.strip()[-200:] or f"ssh exit {proc.returncode}"
                if "Host key verification failed" in proc.stderr:
                    raise LabError(f"{n.name} ({n.address}): another host answers there "
                                   "(host key mismatch)")
                return proc.returncode == 0
            _wait(ready, timeout, None)
            if not ready():
                raise LabError(f"{n.name} did not answer SSH within {timeout:.0f} s "
                               f"({last['why']}); see {self.node_dir(n.name) / 'console.log'}")

    def ssh(self, node: str, command: str, *, timeout: float = 60,
            check: bool = False) -> subprocess.CompletedProcess[str]:
        """Run a command on a node as root over SSH (tests and fault injection)."""
        state = self.load_state()
        n = self._node(state, node)
        cmd = ["ssh", "-q", "-i", str(self.key_file), "-o", "BatchMode=yes",
               "-o", f"UserKnownHostsFile={self.known_hosts}",
               "-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=5",
               f"root@{n.address}", command]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              check=False)
        if check and proc.returncode != 0:
            raise LabError(f"{node}: {command!r} failed: {proc.stderr.strip()[-300:]}")
        return proc

    # -- inventory ---------------------------------------------------------------------
    def node_records(self, state: LabState) -> list[dict]:
        return [{
            "name": n.name, "address": n.address,
            "connection": {
                "user": "root", "port": 22, "private_key_file": str(self.key_file),
                "ssh_common_args": f"-o UserKnownHostsFile={self.known_hosts} "
                                   "-o StrictHostKeyChecking=yes",
            },
            "services": ["web", "mail", "ftp", "mariadb", "postgresql", "dns"],
            "owner": "shared",
            "infra": {"provider": "lab", "params": {"lab": self.name, "node": n.name,
                                                    "project_dir": str(self.project_dir)}},
            "capacity": {"tenants": 500, "disk_mb": 8192},
        } for n in state.nodes.values()]

    def _write_inventory(self, state: LabState) -> None:
        from oemhost.store import Store

        Store.init(self.inventory_dir)
        store = Store(self.inventory_dir)
        for rec in self.node_records(state):
            store.put_node(rec, actor="lab", reason=f"lab {self.name} up")

    def _remove_from_inventory(self, state: LabState) -> None:
        if not (self.inventory_dir / "state").exists():
            return
        from oemhost.errors import ConflictError
        from oemhost.store import Store

        store = Store(self.inventory_dir)
        for n in state.nodes.values():
            if any(x.name == n.name for x in store.list_nodes()):
                try:
                    store.remove_node(n.name, actor="lab", reason=f"lab {self.name} down")
                except ConflictError as exc:
                    # Tenants live on it (the demo, a test's customers): the record stays,
                    # so `lab up` brings the node back under the same name for them.
                    print(f"lab {self.name}: {n.name} stays in the inventory: {exc}")

    # -- teardown ------------------------------------------------------------------------
    def _kill(self, n: NodeState) -> None:
        """Kill a node hard: every process of its container, then its nspawn.

        Killing only systemd-nspawn leaves the container's systemd running (observed), so
        the processes in the node's network namespace are killed first.
        """
        def members() -> list[int]:
            out = run(["ip", "netns", "pids", n.netns], check=False).stdout
            return [int(p) for p in out.split()]

        for pid in [*members(), n.pid]:
            if _pid_alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        _wait(lambda: not members() and not _pid_alive(n.pid), 15, f"{n.name} did not die")
        self._release_machine(n)

    def _release_machine(self, n: NodeState) -> None:
        # nspawn leaves its per-machine runtime files behind when killed hard
        shutil.rmtree(NSPAWN_RUNTIME / "unix-export" / n.machine, ignore_errors=True)

    def _netns_names(self) -> list[str]:
        names = [ln.split(" ")[0] for ln in run(["ip", "netns", "list"], check=False)
                 .stdout.splitlines()]
        return [ns for ns in names if ns.startswith(f"{self.prefix}-")]

    def _sweep(self, progress) -> None:
        """Remove every trace of this lab: processes, mounts, loops, namespaces, links."""
        state = self.load_state()
        pids = [n.pid for n in state.nodes.values()] if state else []
        pids += _nspawn_pids(f"--machine={self.prefix}-")
        live = [p for p in set(pids) if _pid_alive(p) and _is_nspawn(p, self.prefix)]
        if live:
            progress(f"stopping {len(live)} node(s) of lab {self.name}")
        for p in live:
            os.kill(p, signal.SIGTERM)  # nspawn powers the container off cleanly
        _wait(lambda: not any(_pid_alive(p) for p in live), 15, None)
        for ns in self._netns_names():  # what is left, clean shutdown or not, is killed
            for pid in run(["ip", "netns", "pids", ns], check=False).stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for p in live:
            if _pid_alive(p):
                os.kill(p, signal.SIGKILL)
        _wait(lambda: not any(_pid_alive(p) for p in live) and not any(
            run(["ip", "netns", "pids", ns], check=False).stdout.split()
            for ns in self._netns_names()), 15, "lab nodes would not stop")
        for mnt in sorted(_mounts_under(self.dir), key=len, reverse=True):
            run(["umount", mnt], check=False).returncode == 0 or run(
                ["umount", "-l", mnt], check=False)
        loops = json.loads(run(["losetup", "--list", "--json"], check=False).stdout or "{}")
        for dev in loops.get("loopdevices", []):
            if (dev.get("back-file") or "").startswith(f"{self.dir}/"):
                run(["losetup", "-d", dev["name"]], check=False)
        for ns in self._netns_names():
            run(["ip", "netns", "del", ns], check=False)
        for link in json.loads(run(["ip", "-j", "link"], check=False).stdout or "[]"):
            if link.get("ifname", "").startswith(self.prefix):
                run(["ip", "link", "del", link["ifname"]], check=False)
        if state:
            for n in state.nodes.values():
                self._release_machine(n)
        shutil.rmtree(self.dir / "nodes", ignore_errors=True)
        (self.dir / "state.json").unlink(missing_ok=True)
        if not _nspawn_pids("") and run(["mountpoint", "-q", str(NSPAWN_RUNTIME)],
                                         check=False).returncode == 0:
            run(["umount", str(NSPAWN_RUNTIME)], check=False)


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def _nspawn_pids(marker: str) -> list[int]:
    pids = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            cmd = _cmdline(int(p.name))
            if cmd and cmd[0].endswith("systemd-nspawn") and any(marker in a for a in cmd):
                pids.append(int(p.name))
    return pids


def _is_nspawn(pid: int, prefix: str) -> bool:
    cmd = _cmdline(pid)
    return bool(cmd) and cmd[0].endswith("systemd-nspawn") and any(
        a.startswith(f"--machine={prefix}-") for a in cmd)


def _mounts_under(path: Path) -> list[str]:
    base = str(path.resolve())
    out = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        mnt = line.split()[4].replace("\\040", " ")
        if mnt == base or mnt.startswith(base + "/"):
            out.append(mnt)
    return out


def _wait(cond, timeout: float, message: str | None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.2)
    if message:
        raise LabError(message)
