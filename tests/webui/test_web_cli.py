"""``oemhost user``, ``oemhost demo seed`` and ``oemhost web``'s checks."""

from __future__ import annotations

import re

import pytest

from oemhost.errors import OemhostError


def _run(settings, argv, capsys, stdin=None, monkeypatch=None):
    from oemhost import cli

    monkeypatch.setattr(cli, "load_settings", lambda: settings)
    if stdin is not None:
        import io

        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    rc = cli.main(argv)
    return rc, capsys.readouterr()


def test_user_create_admin_reset_unlock(settings, capsys, monkeypatch):
    rc, out = _run(settings, ["user", "create-admin", "alice"], capsys, monkeypatch=monkeypatch)
    assert rc == 0
    password = re.search(r"password: (\S+)", out.out).group(1)
    from oemhost import accounts
    from oemhost.db import make_engine, session_factory

    engine = make_engine(settings.database_url)
    with session_factory(engine)() as s:
        user = accounts.authenticate(s, realm="provider", login="alice", password=password,
                                     ip="127.0.0.1")
        assert user.kind == "provider" and user.password_hash.startswith("$argon2id$")
        s.commit()
    rc, out = _run(settings, ["user", "reset-password", "alice", "--password-stdin"], capsys,
                   stdin="a-chosen-password\n", monkeypatch=monkeypatch)
    assert rc == 0 and "a-chosen-password" not in out.out
    with session_factory(engine)() as s:
        assert accounts.authenticate(s, realm="provider", login="alice",
                                     password="a-chosen-password", ip="127.0.0.1")
    rc, out = _run(settings, ["user", "reset-password", "nobody"], capsys,
                   monkeypatch=monkeypatch)
    assert rc == 1 and "no login nobody" in out.err
    rc, out = _run(settings, ["user", "create-admin", "alice"], capsys,
                   monkeypatch=monkeypatch)
    assert rc == 1 and "already exists" in out.err
    engine.dispose()


def test_demo_seed_is_idempotent(settings, capsys, monkeypatch):
    from oemhost.store import Store

    rc, out = _run(settings, ["demo", "seed"], capsys, monkeypatch=monkeypatch)
    assert rc == 0, out.err
    lines = out.out.strip().splitlines()
    assert len(lines) == 3 and "/r/demo/login" in lines[1]
    head = Store(settings.inventory_dir).git.head()
    rc, out2 = _run(settings, ["demo", "seed"], capsys, monkeypatch=monkeypatch)
    assert rc == 0 and Store(settings.inventory_dir).git.head() == head
    assert out2.out != out.out  # fresh passwords, same logins
    # the printed passwords work
    from webui_helpers import Browser

    from webui import create_app

    app = create_app({"OEMHOST_SETTINGS": settings, "TESTING": True})
    logins = [re.search(r"login (\S+)  password (\S+)", ln).groups()
              for ln in out2.out.strip().splitlines()]
    for (login, password), path in zip(logins, ("/login", "/r/demo/login", "/r/demo/login"),
                                       strict=True):
        Browser(app.test_client()).login(login, password, path=path)
    app.extensions["oemhost_engine"].dispose()


def test_web_refuses_insecure_cookies_off_loopback():
    from webui.cli import _check_bind

    assert _check_bind("127.0.0.1:8080", False) == ("127.0.0.1", 8080)
    assert _check_bind("0.0.0.0:443", True) == ("0.0.0.0", 443)  # noqa: S104
    with pytest.raises(OemhostError, match="loopback"):
        _check_bind("0.0.0.0:8080", False)
    with pytest.raises(OemhostError):
        _check_bind("nonsense", True)
