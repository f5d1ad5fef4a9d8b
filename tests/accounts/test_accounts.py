"""oemhost.accounts: users, argon2id, lockout and throttling, API tokens, audit log."""

from __future__ import annotations

from datetime import timedelta

import pytest

from oemhost import accounts
from oemhost.db import make_engine, migrate, session_factory
from oemhost.db.models.accounts import utcnow
from oemhost.errors import ConflictError, ValidationError

PW = "a-long-password"


@pytest.fixture
def session(tmp_path):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    migrate(url)
    engine = make_engine(url)
    accounts.configure_hashing({"argon2": {"time_cost": 1, "memory_kib": 1024,
                                           "parallelism": 1}})
    with session_factory(engine)() as s:
        yield s
    engine.dispose()
    accounts.configure_hashing({})


def test_create_user_rules(session):
    u = accounts.create_user(session, kind="reseller", login="alice", password=PW,
                             reseller="acme", created_by="t")
    assert u.realm == "r:acme" and u.actor == "reseller:acme/alice"
    assert u.password_hash.startswith("$argon2id$") and PW not in u.password_hash
    with pytest.raises(ConflictError):
        accounts.create_user(session, kind="reseller", login="alice", password=PW,
                             reseller="acme", created_by="t")
    # same login in another realm is another user
    accounts.create_user(session, kind="reseller", login="alice", password=PW, reseller="beta",
                         created_by="t")
    for kw, field in ((dict(kind="enduser", login="shop1", reseller="acme"), "tenant"),
                      (dict(kind="enduser", login="other", reseller="acme", tenant="shop1"),
                       "login"),
                      (dict(kind="provider", login="Bad Name"), "login"),
                      (dict(kind="provider", login="ops", reseller="acme"), "reseller"),
                      (dict(kind="root", login="ops"), "kind")):
        with pytest.raises(ValidationError) as exc:
            accounts.create_user(session, password=PW, created_by="t", **kw)
        assert field in exc.value.errors
    with pytest.raises(ValidationError) as exc:
        accounts.create_user(session, kind="provider", login="ops", password="short",
                             created_by="t")
    assert "password" in exc.value.errors


def test_lockout_and_recovery(session):
    accounts.create_user(session, kind="provider", login="ops", password=PW, created_by="t")
    policy = accounts.Policy(max_failures=3, window_s=60, lockout_s=120, ip_max_failures=100)
    now = utcnow()
    for _ in range(3):
        with pytest.raises(accounts.LoginRefused) as exc:
            accounts.authenticate(session, realm="provider", login="ops", password="nope",
                                  ip="192.0.2.1", policy=policy, now=now)
        assert exc.value.reason == "bad credentials"
    with pytest.raises(accounts.LoginRefused) as exc:
        accounts.authenticate(session, realm="provider", login="ops", password=PW,
                              ip="192.0.2.1", policy=policy, now=now)
    assert exc.value.reason == "locked" and exc.value.retry_after > 100
    later = now + timedelta(seconds=121)
    user = accounts.authenticate(session, realm="provider", login="ops", password=PW,
                                 ip="192.0.2.1", policy=policy, now=later)
    assert user.failed_logins == 0 and user.locked_until is None


def test_unknown_login_and_wrong_realm_look_the_same(session):
    accounts.create_user(session, kind="provider", login="ops", password=PW, created_by="t")
    messages = set()
    for realm, login in (("provider", "nobody"), ("r:acme", "ops"), ("provider", "ops")):
        with pytest.raises(accounts.LoginRefused) as exc:
            accounts.authenticate(session, realm=realm, login=login, password="wrong-pw",
                                  ip="192.0.2.2")
        messages.add(str(exc.value))
    assert len(messages) == 1


def test_rehash_on_login_when_parameters_change(session):
    user = accounts.create_user(session, kind="provider", login="ops", password=PW,
                                created_by="t")
    old = user.password_hash
    accounts.configure_hashing({"argon2": {"time_cost": 2, "memory_kib": 2048,
                                           "parallelism": 1}})
    user = accounts.authenticate(session, realm="provider", login="ops", password=PW,
                                 ip="192.0.2.3")
    assert user.password_hash != old and "m=2048,t=2" in user.password_hash


def test_password_change_bumps_epoch_and_lifts_lock(session):
    user = accounts.create_user(session, kind="provider", login="ops", password=PW,
                                created_by="t")
    user.locked_until = utcnow() + timedelta(hours=1)
    accounts.set_password(session, user, "another-long-pw")
    assert user.session_epoch == 1 and user.locked_until is None
    assert accounts.verify_password(user.password_hash, "another-long-pw")
    assert not accounts.verify_password(user.password_hash, PW)


def test_tokens(session):
    token, secret = accounts.issue_token(session, reseller="acme", name="billing",
                                         created_by="t")
    assert secret.startswith("oht_") and secret not in (token.digest, token.prefix)
    assert len(token.prefix) < len(secret)
    assert accounts.verify_token(session, secret).id == token.id
    assert accounts.verify_token(session, secret[:-1] + ("A" if secret[-1] != "A" else "B")) \
        is None
    assert accounts.verify_token(session, "not-a-token") is None
    with pytest.raises(Exception):  # noqa: B017,PT011 - another reseller's token id
        accounts.revoke_token(session, "beta", token.id)
    accounts.revoke_token(session, "acme", token.id)
    assert accounts.verify_token(session, secret) is None


def test_audit_search_and_pages(session):
    for i in range(120):
        accounts.audit(session, actor="ops:bob", action="tenant.add", target=f"t{i}",
                       reseller="acme" if i % 2 else "beta")
    rows, total = accounts.list_audit(session, reseller="acme", page=2, per_page=50)
    assert total == 60 and len(rows) == 10
    rows, total = accounts.list_audit(session, q="t11")
    assert {r.target for r in rows} == {"t11", "t110", "t111", "t112", "t113", "t114", "t115",
                                        "t116", "t117", "t118", "t119"}
