#!/usr/bin/env python3
"""Test helper: the database password hashes the inventory holds, from known passwords.

A stand-in for ``oemhost.store.hashing`` (``mariadb_native_hash``,
``postgres_scram_sha256``), which the store engineer is writing; switch the scenario to it
once it is on main. Same algorithms, standard library only:

- MariaDB ``mysql_native_password``: ``*`` + upper-case hex of SHA1(SHA1(password)).
- PostgreSQL SCRAM-SHA-256 verifier, as the server's ``scram_build_secret()`` makes it
  (RFC 5802 / RFC 7677): ``SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>``
  with SaltedPassword = PBKDF2-HMAC-SHA-256(password, salt, iterations),
  StoredKey = SHA256(HMAC(SaltedPassword, "Client Key")),
  ServerKey = HMAC(SaltedPassword, "Server Key"). The password is used as UTF-8 without
  SASLprep, which is the same for the ASCII test passwords used here.

Usage: db_hash.py mariadb|postgresql PASSWORD
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import sys


def mariadb_native_hash(password: str) -> str:
    return "*" + hashlib.sha1(hashlib.sha1(password.encode()).digest()).hexdigest().upper()  # noqa: S324


def postgres_scram_sha256(password: str, salt: bytes | None = None, iterations: int = 4096) -> str:
    if not password.isascii():
        raise ValueError("this helper does no SASLprep: ASCII passwords only")
    salt = os.urandom(16) if salt is None else salt
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    b64 = base64.b64encode
    return (f"SCRAM-SHA-256${iterations}:{b64(salt).decode()}"
            f"${b64(stored_key).decode()}:{b64(server_key).decode()}")


HASHERS = {"mariadb": mariadb_native_hash, "postgresql": postgres_scram_sha256}

if __name__ == "__main__":
    print(HASHERS[sys.argv[1]](sys.argv[2]))
