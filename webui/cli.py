"""``oemhost web``: serve the panels and the API (gunicorn; ``--dev`` for Flask's server).

The web process never runs a scheduler (the worker does: docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import ipaddress

from oemhost.errors import OemhostError


def register(sub) -> None:
    p = sub.add_parser("web", help="serve the panels and the resellers' API")
    p.add_argument("--bind", default=None,
                   help="address:port (default: [web] bind, else 127.0.0.1:8080)")
    p.add_argument("--workers", type=int, default=None,
                   help="gunicorn worker processes (default: [web] workers, else 2)")
    p.add_argument("--dev", action="store_true",
                   help="Flask's development server with reloading (never in production)")
    p.add_argument("--insecure-http-demo", action="store_true",
                   help="plain HTTP on a loopback address for the local demo: session "
                        "cookies without Secure (same as [web] cookie_secure = false)")
    p.set_defaults(func=_web)


def _check_bind(bind: str, secure: bool) -> tuple[str, int]:
    host, sep, port = bind.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise OemhostError(f"--bind {bind!r}: address:port expected")
    host = host.strip("[]") or "127.0.0.1"
    if not secure:
        # cookies without Secure travel in clear text: only on the loopback (the demo)
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback:
            raise OemhostError("[web] cookie_secure = false is only allowed when serving on "
                               "a loopback address (127.0.0.1); serve HTTPS (a TLS proxy in "
                               "front) and keep Secure cookies elsewhere")
    return host, int(port)


def _web(args, settings) -> int:
    from webui import WEB_DEFAULTS
    from webui.i18n import compile_catalogs

    if args.insecure_http_demo:
        settings.raw.setdefault("web", {})["cookie_secure"] = False
    web = {**WEB_DEFAULTS, **settings.section("web")}
    bind = args.bind or web.get("bind") or "127.0.0.1:8080"
    host, port = _check_bind(bind, bool(web["cookie_secure"]))
    compile_catalogs()
    if args.dev:
        from webui import create_app

        create_app({"OEMHOST_SETTINGS": settings}).run(host=host, port=port, debug=False,
                                                        use_reloader=True)
        return 0
    workers = args.workers or int(web.get("workers", 2))
    from gunicorn.app.base import BaseApplication

    class Server(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("threads", 4)
            self.cfg.set("accesslog", "-")
            self.cfg.set("forwarded_allow_ips", web.get("forwarded_allow_ips", "127.0.0.1"))

        def load(self):
            from webui import create_app

            return create_app({"OEMHOST_SETTINGS": settings})

    Server().run()
    return 0
