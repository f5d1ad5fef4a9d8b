"""Passwords turned into the hash each consumer verifies; the plaintext is never kept.

=====================  ============================================  =====================
consumer               format                                        function
=====================  ============================================  =====================
system user, FTP       ``$6$rounds=N$salt$...`` (SHA512-crypt)       :func:`sha512_crypt`
Dovecot (mailboxes)    ``{SHA512-CRYPT}$6$rounds=N$salt$...``        :func:`dovecot_hash`
MariaDB                ``*`` + 40 upper-case hex (native password)   :func:`mariadb_native_hash`
PostgreSQL             ``SCRAM-SHA-256$4096:salt$StoredKey:ServerKey`` :func:`postgres_scram_sha256`
=====================  ============================================  =====================

SHA512-crypt and the MariaDB hash come from libpass (the maintained passlib fork; Python
3.13 has no ``crypt`` module). The PostgreSQL verifier is computed as PostgreSQL's own
``scram_build_secret()`` does (RFC 5802 / RFC 7677: PBKDF2-HMAC-SHA-256 over the SASLprep'd
password, 4096 iterations, 16-byte salt), with libpass's ``saslprep``.

Each ``verify_*`` counterpart is what the tests use to prove a stored hash matches the
password that was set.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re

from passlib.hash import mysql41
from passlib.hash import sha512_crypt as _sha512_crypt
from passlib.utils import saslprep

#: SHA512-crypt cost. glibc's default is 5000; every IMAP/POP3/FTP login pays this in C
#: (about 7 ms at 50000), so it stays well below passlib's 656000 default.
SHA512_ROUNDS = 50000
SCRAM_ITERATIONS = 4096

SHA512_CRYPT_RE = re.compile(
    r"^\$6\$(rounds=[1-9][0-9]{3,8}\$)?[./0-9A-Za-z]{1,16}\$[./0-9A-Za-z]{86}$")
DOVECOT_RE = re.compile(r"^\{SHA512-CRYPT\}" + SHA512_CRYPT_RE.pattern[1:])
MARIADB_RE = re.compile(r"^\*[0-9A-F]{40}$")
SCRAM_RE = re.compile(
    r"^SCRAM-SHA-256\$[1-9][0-9]{3,6}:[A-Za-z0-9+/]+={0,2}\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$"
)

_crypt = _sha512_crypt.using(rounds=SHA512_ROUNDS)


def sha512_crypt(password: str) -> str:
    """``$6$`` hash for /etc/shadow and the FTP server (crypt(3) verifies it)."""
    return _crypt.hash(password)


def verify_sha512_crypt(password: str, hashed: str) -> bool:
    return bool(SHA512_CRYPT_RE.match(hashed)) and _sha512_crypt.verify(password, hashed)


def dovecot_hash(password: str) -> str:
    """Dovecot's ``{SHA512-CRYPT}`` scheme (``doveadm pw -s SHA512-CRYPT`` format)."""
    return "{SHA512-CRYPT}" + sha512_crypt(password)


def verify_dovecot_hash(password: str, hashed: str) -> bool:
    return bool(DOVECOT_RE.match(hashed)) and _sha512_crypt.verify(
        password, hashed.removeprefix("{SHA512-CRYPT}"))


def mariadb_native_hash(password: str) -> str:
    """``mysql_native_password`` hash: ``*`` + hex(SHA1(SHA1(password))), upper case."""
    return mysql41.hash(password)


def verify_mariadb_native_hash(password: str, hashed: str) -> bool:
    return bool(MARIADB_RE.match(hashed)) and mysql41.verify(password, hashed)


def _scram_keys(password: str, salt: bytes, iterations: int) -> tuple[bytes, bytes]:
    salted = hashlib.pbkdf2_hmac("sha256", saslprep(password).encode("utf-8"), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    return stored_key, server_key


def postgres_scram_sha256(password: str, *, salt: bytes | None = None,
                          iterations: int = SCRAM_ITERATIONS) -> str:
    """PostgreSQL's SCRAM-SHA-256 verifier, as ``ALTER ROLE ... PASSWORD`` stores it."""
    salt = os.urandom(16) if salt is None else salt
    stored_key, server_key = _scram_keys(password, salt, iterations)
    b64 = base64.b64encode
    return (f"SCRAM-SHA-256${iterations}:{b64(salt).decode()}"
            f"${b64(stored_key).decode()}:{b64(server_key).decode()}")


def verify_postgres_scram_sha256(password: str, hashed: str) -> bool:
    if not SCRAM_RE.match(hashed):
        return False
    head, keys = hashed.removeprefix("SCRAM-SHA-256$").split("$")
    iterations, salt = head.split(":")
    stored_b64, server_b64 = keys.split(":")
    stored_key, server_key = _scram_keys(password, base64.b64decode(salt), int(iterations))
    return (hmac.compare_digest(stored_key, base64.b64decode(stored_b64))
            and hmac.compare_digest(server_key, base64.b64decode(server_b64)))


#: the hash function a database engine's users need
DATABASE_HASHERS = {"mariadb": mariadb_native_hash, "postgresql": postgres_scram_sha256}
DATABASE_VERIFIERS = {"mariadb": verify_mariadb_native_hash,
                      "postgresql": verify_postgres_scram_sha256}
DATABASE_HASH_RE = {"mariadb": MARIADB_RE, "postgresql": SCRAM_RE}
