"""The postgresql role gives the monitoring login a SCRAM verifier made on the controller
(roles/postgresql/filter_plugins/oemhost_postgresql.py): a real PostgreSQL 15 accepts
it, logs the right password in and the wrong one out, and keeps the iteration count."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

PATH = (Path(__file__).resolve().parents[2] / "roles" / "postgresql" / "filter_plugins"
        / "oemhost_postgresql.py")
spec = importlib.util.spec_from_file_location("oemhost_postgresql", PATH)
pgfilter = importlib.util.module_from_spec(spec)
spec.loader.exec_module(pgfilter)


def test_verifier_is_stable_and_shaped():
    v = pgfilter.scram_sha256_verifier("secret-password", "SaltSaltSalt", 256)
    assert v == pgfilter.scram_sha256_verifier("secret-password", "SaltSaltSalt", 256)
    assert v.startswith("SCRAM-SHA-256$256:U2FsdFNhbHRTYWx0$")
    assert v != pgfilter.scram_sha256_verifier("secret-passwore", "SaltSaltSalt", 256)
    for bad in (("", "SaltSaltSalt", 256), ("pw", "short", 256), ("pw", "SaltSaltSalt", 0)):
        with pytest.raises(ValueError):
            pgfilter.scram_sha256_verifier(*bad)


def test_postgresql_logs_in_with_the_verifier(pg):
    user, password = "oemhost_scram_t", "Zx81monitorPassw0rdOfThirtyTwo!!"
    verifier = pgfilter.scram_sha256_verifier(password, "a1B2c3D4e5F6g7H8i9J0k1L2", 256)
    admin = dict(host=str(pg.base), port=pg.port, user="postgres", dbname="postgres",
                 autocommit=True)
    with psycopg.connect(**admin) as conn:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(user)))
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
            sql.Identifier(user), sql.Literal(verifier)))
        stored = conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s",
                              (user,)).fetchone()[0]
    assert stored == verifier  # taken as a verifier, not hashed again
    tcp = dict(host=pg.host, port=pg.port, user=user, dbname="postgres", connect_timeout=5)
    with psycopg.connect(password=password, **tcp) as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == user
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(password=password + "x", **tcp)
