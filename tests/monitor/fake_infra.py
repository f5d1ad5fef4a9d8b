"""Fake infrastructure endpoints speaking the real protocols, for the level-2 reboot
playbook (playbooks/reboot_node.yml): the lab has no BMC and no hypervisor.

- ``FakeBmc``: an IPMI 2.0 (RMCP+) BMC on 127.0.0.1/UDP, pyghmi's own BMC server class;
  the session handshake (RAKP) proves the client's password, as a real BMC does.
- ``FakeProxmox``: the Proxmox VE API over HTTPS (self-signed certificate), with API token
  auth, implementing the endpoints community.proxmox.proxmox_kvm calls to stop and start
  a VM.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import re
import ssl
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pyghmi.ipmi.bmc as bmc
import pyghmi.ipmi.private.serversession as serversession


class _Suite3Session(serversession.ServerSession):
    """pyghmi's server session speaks only cipher suite 3 (HMAC-SHA1) but accepts any
    proposal, so pyghmi's own client, which proposes HMAC-SHA256 first, then fails the
    RAKP2 check. A real suite-3-only BMC refuses the proposal (RMCP+ status 0x11, invalid
    authentication algorithm) and the client retries with SHA-1: answer as it does."""

    def create_open_session_response(self, request):
        auth_algorithm = request[12] & 0x3F    # RMCP+ open session request, auth payload
        if auth_algorithm != 1:
            return bytearray([request[0], 0x11, 0, 0]) + bytearray(request[4:8])
        return super().create_open_session_response(request)


class _Users(dict):
    """The BMC's user table; reports every user name a client authenticates as."""

    def get(self, key, default=None):
        _report("user", key)
        return super().get(key, default)


def _report(kind: str, value: str) -> None:
    print(kind, value, flush=True)


class BmcServer(bmc.Bmc):
    """pyghmi's BMC server for a machine that is on; reports (on stdout) the chassis
    control requests it gets. Runs in its own process (``python -m
    tests.monitor.fake_infra bmc USER PASSWORD``): pyghmi keeps its sockets and IO thread
    in module globals, so one BMC per process, and the test process stays clean."""

    def __init__(self, users: dict[str, str]):
        super().__init__(_Users(users), port=0, address="127.0.0.1")
        self.port = self.serversocket.getsockname()[1]
        self.powerstate = "on"

    def get_power_state(self):
        return self.powerstate

    def power_off(self):
        _report("action", "off")
        self.powerstate = "off"

    def power_on(self):
        _report("action", "on")
        self.powerstate = "on"

    def power_cycle(self):
        _report("action", "cycle")

    def power_reset(self):
        _report("action", "reset")

    def power_shutdown(self):
        _report("action", "shutdown")
        self.powerstate = "off"


def serve_bmc(user: str, password: str) -> None:
    serversession.ServerSession = _Suite3Session   # what Bmc.sessionless_data spawns
    server = BmcServer({user: password})
    _report("port", str(server.port))
    server.listen()


class FakeBmc:
    """A BMC on 127.0.0.1 (UDP, a free port) in a child process: ``actions`` (chassis
    control requests, in order) and ``users`` (user names looked up) once stopped."""

    def __init__(self, user: str, password: str):
        self.actions: list[str] = []
        self.users: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.monitor.fake_infra", "bmc", user, password],
            stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2])
        first = self.proc.stdout.readline().split()
        if first[:1] != ["port"]:
            self.proc.kill()
            raise RuntimeError(f"the fake BMC did not start: {first}")
        self.port = int(first[1])

    def __enter__(self) -> FakeBmc:
        return self

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        out, _ = self.proc.communicate(timeout=10)
        for line in out.splitlines():
            kind, _, value = line.partition(" ")
            {"action": self.actions, "user": self.users}.get(kind, []).append(value)


def self_signed_cert(directory: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """A self-signed certificate for ``host`` (an IP address): (cert.pem, key.pem)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake-pve")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(host))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_pem, key_pem = directory / "pve.pem", directory / "pve.key"
    cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return cert_pem, key_pem


class FakeProxmox:
    """The Proxmox VE API (``/api2/json``) of a one-node cluster with one QEMU VM, over
    HTTPS, accepting one API token (``Authorization: PVEAPIToken=USER!ID=SECRET``).

    Implements what community.proxmox.proxmox_kvm calls for ``state: stopped`` (force)
    and ``state: started`` on a vmid: the version (token check), the cluster's VM
    resources, the VM's current status, ``status/shutdown`` / ``status/start`` (which
    finish at once as tasks with a UPID) and the task's status and log. ``requests``
    records (method, path, form) of every authenticated request; ``auth`` every
    Authorization header received. Anything else answers 501 and is recorded too."""

    NODE = "pve1"

    def __init__(self, directory: Path, *, user: str, token_id: str, secret: str,
                 vmid: int, status: str = "running"):
        self.token = f"PVEAPIToken={user}!{token_id}={secret}"
        self.vmid = vmid
        self.status = status
        self.requests: list[tuple[str, str, dict]] = []
        self.auth: list[str] = []
        self.unknown: list[str] = []
        self.tasks: dict[str, str] = {}
        self.cert, key = self_signed_cert(directory)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.cert, key)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever,
                                        kwargs={"poll_interval": 0.1}, daemon=True)

    def __enter__(self) -> FakeProxmox:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)

    def actions(self) -> list[tuple[str, dict]]:
        """The VM power actions requested, in order: (action, form)."""
        return [(path.rsplit("/", 1)[1], form) for method, path, form in self.requests
                if method == "POST" and "/status/" in path]

    def _task(self, kind: str) -> str:
        upid = f"UPID:{self.NODE}:0000{len(self.tasks) + 1:04X}:00000000:00000000:{kind}:" \
               f"{self.vmid}:root@pam:"
        self.tasks[upid] = kind
        return upid

    def route(self, method: str, path: str, form: dict) -> tuple[int, object]:
        vm = f"/api2/json/nodes/{self.NODE}/qemu/{self.vmid}"
        if method == "GET" and path == "/api2/json/version":
            return 200, {"version": "8.2.4", "release": "8.2", "repoid": "faa83925"}
        if method == "GET" and path == "/api2/json/cluster/resources":
            return 200, [{"id": f"qemu/{self.vmid}", "type": "qemu", "vmid": self.vmid,
                          "node": self.NODE, "name": "node1", "status": self.status,
                          "template": 0}]
        if method == "GET" and path == f"{vm}/status/current":
            return 200, {"vmid": self.vmid, "status": self.status, "qmpstatus": self.status,
                         "name": "node1"}
        if method == "POST" and path == f"{vm}/status/shutdown":
            self.status = "stopped"
            return 200, self._task("qmshutdown")
        if method == "POST" and path == f"{vm}/status/start":
            self.status = "running"
            return 200, self._task("qmstart")
        m = re.fullmatch(rf"/api2/json/nodes/{self.NODE}/tasks/([^/]+)/(status|log)", path)
        if method == "GET" and m and m[1] in self.tasks:
            if m[2] == "status":
                return 200, {"upid": m[1], "node": self.NODE, "status": "stopped",
                             "exitstatus": "OK", "type": self.tasks[m[1]]}
            return 200, [{"n": 1, "t": "TASK OK"}]
        self.unknown.append(f"{method} {path}")
        return 501, None

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self):
                url = urlsplit(self.path)
                path = unquote(url.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                form = {k: v[0] for k, v in parse_qs(body or url.query).items()}
                given = self.headers.get("Authorization", "")
                fake.auth.append(given)
                if given != fake.token:
                    # what PVE answers to a bad token
                    self._send(401, None, reason="permission denied - invalid PVE ticket")
                    return
                fake.requests.append((self.command, path, form))
                code, data = fake.route(self.command, path, form)
                self._send(code, data)

            def _send(self, code, data, reason=None):
                payload = json.dumps({"data": data}).encode()
                self.send_response(code, reason)
                self.send_header("Content-Type", "application/json;charset=UTF-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, *args):
                pass

        return Handler


if __name__ == "__main__":
    if sys.argv[1:2] == ["bmc"]:
        serve_bmc(sys.argv[2], sys.argv[3])
