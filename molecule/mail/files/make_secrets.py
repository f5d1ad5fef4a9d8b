#!/usr/bin/env python3
"""Write random passwords for the test mailboxes and their Dovecot hashes.

Usage: make_secrets.py DIR ADDRESS...  -> DIR/passwords.json (0600, plaintext, read only by
the test clients) and DIR/hashes.json ({SHA512-CRYPT} hashes, the inventory's form). Keeps
existing files so that converge and idempotence see the same hashes.
"""

import json
import os
import secrets
import sys

from passlib.hash import sha512_crypt


def main(directory: str, addresses: list[str]) -> None:
    pw_file = os.path.join(directory, "passwords.json")
    hash_file = os.path.join(directory, "hashes.json")
    if os.path.exists(pw_file) and os.path.exists(hash_file):
        return
    passwords = {a: secrets.token_urlsafe(18) for a in addresses}
    hashes = {a: "{SHA512-CRYPT}" + sha512_crypt.using(rounds=5000).hash(p)
              for a, p in passwords.items()}
    fd = os.open(pw_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(passwords, f)
    with open(hash_file, "w") as f:
        json.dump(hashes, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
