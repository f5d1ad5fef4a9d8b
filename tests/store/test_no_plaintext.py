"""No password set through the store appears anywhere in the inventory or its history."""

from __future__ import annotations

import json
import os
import secrets
import subprocess

from oemhost.store import Store

from .conftest import git, tenant_record


def every_byte_of(root) -> bytes:
    """Working files, the parse cache, and every git object decompressed."""
    chunks = []
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            with open(os.path.join(dirpath, name), "rb") as fh:
                chunks.append(fh.read())
    chunks.append(subprocess.run(["git", "cat-file", "--batch-all-objects", "--batch"],
                                 cwd=root, capture_output=True, check=True).stdout)
    chunks.append(git(root, "log", "--all", "-p", "--format=%H %an %ae%n%B").encode())
    chunks.append(git(root, "reflog", "--all").encode())
    return b"\n".join(chunks)


def test_no_plaintext_password_in_files_cache_or_git_history(store: Store, cli):
    passwords: list[str] = []

    def pw() -> str:
        passwords.append(f"Pw-{secrets.token_hex(8)}")
        return passwords[-1]

    a = "ops:t"
    store.add_tenant(tenant_record("shop1", domains=["shop1.example"]), password=pw(), actor=a)
    store.set_tenant_password("shop1", pw(), actor="tenant:shop1")
    store.add_mailbox("shop1", "info@shop1.example", pw(), 100, actor=a)
    store.set_mailbox_password("shop1", "info@shop1.example", pw(), actor=a)
    store.add_ftp_account("shop1", "up", pw(), actor=a)
    store.change_ftp_account("shop1", "up", password=pw(), actor=a)
    store.add_database("shop1", "mariadb", "wp", pw(), actor=a)
    store.add_database("shop1", "postgresql", "app", pw(), actor=a)
    store.set_database_password("shop1", "mariadb", "wp", pw(), actor=a)
    store.set_database_password("shop1", "postgresql", "app", pw(), actor=a)
    # the ops CLI: from stdin, and generated (printed once, never stored)
    inv = str(store.root)
    code, _out, err = cli("mailbox", "add", "shop1", "cli@shop1.example", "--quota-mb", "10",
                          "--password-stdin", "-i", inv, stdin=pw() + "\n")
    assert code == 0, err
    code, out, err = cli("db", "add", "shop1", "mariadb", "cli", "--generate-password",
                         "--json", "-i", inv)
    assert code == 0, err
    passwords.append(json.loads(out)["password"])
    code, _out, err = cli("tenant", "password", "shop1", "--password-stdin", "-i", inv,
                          stdin=pw() + "\n")
    assert code == 0, err
    # a refused change with a password leaves nothing either
    assert cli("mailbox", "add", "shop1", "bad@other.example", "--quota-mb", "1",
               "--password-stdin", "-i", inv, stdin=pw() + "\n")[0] == 1
    # plugins and check read the inventory (filling the parse cache)
    Store(store.root).issues()
    store.refresh().node_records("node1")

    blob = every_byte_of(store.root)
    assert len(passwords) == 14
    for password in passwords:
        assert password.encode() not in blob, password
    # ...while the hashes that replace them are there
    assert b"{SHA512-CRYPT}$6$" in blob and b"SCRAM-SHA-256$4096:" in blob
