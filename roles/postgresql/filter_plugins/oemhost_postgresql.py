# Copyright: oemhost contributors
# MIT License (see the project's pyproject.toml)
"""Filter of the postgresql role: a login's SCRAM-SHA-256 verifier, computed on the
controller (RFC 5802 / RFC 7677, as PostgreSQL stores it in ``pg_authid.rolpassword``).

PostgreSQL 15 always hashes a plain password with 4096 PBKDF2 iterations (the
``scram_iterations`` setting came with 16). The monitor's login logs in to every node at
every probe interval, and the client's side of SCRAM costs as many iterations as the
verifier says, so the role hands the server a verifier made here with
``postgresql__monitor_scram_iterations``. The salt is a stored random secret (the
``postgresql_monitor_salt`` file), so the verifier, and with it the role's run, stays
the same until the password changes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac


def scram_sha256_verifier(password: str, salt: str, iterations: int = 4096) -> str:
    """``SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`` for ``password``."""
    iterations = int(iterations)
    if not isinstance(password, str) or not password:
        raise ValueError("a SCRAM verifier needs a non-empty password")
    if not isinstance(salt, str) or len(salt) < 8:
        raise ValueError("a SCRAM verifier needs a salt of at least 8 characters")
    if not 1 <= iterations <= 10_000_000:
        raise ValueError("SCRAM iterations must be between 1 and 10000000")
    salt_bytes = salt.encode()
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt_bytes, iterations)
    stored_key = hashlib.sha256(hmac.digest(salted, b"Client Key", "sha256")).digest()
    server_key = hmac.digest(salted, b"Server Key", "sha256")

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    return (f"SCRAM-SHA-256${iterations}:{b64(salt_bytes)}"
            f"${b64(stored_key)}:{b64(server_key)}")


class FilterModule:
    def filters(self):
        return {"oemhost_scram_sha256_verifier": scram_sha256_verifier}
