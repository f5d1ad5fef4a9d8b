"""No password used by a job reaches the stored events or the kept artifacts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from oemhost.db.models.jobs import JobEvent

SECRET = "Sup3r-Secret-Vault-Value-4711"
VAULT_PASSWORD = "vault-pass-0815-xyzzy"
ENV_SECRET = "smtp-env-password-1234"


def _files(root: Path):
    for p in root.rglob("*"):
        if p.is_file():
            yield p


def test_secrets_stay_out_of_events_artifacts_and_environment(make_jobenv, tmp_path,
                                                              monkeypatch):
    vault_pw = tmp_path / "vault-password"
    vault_pw.write_text(VAULT_PASSWORD + "\n")
    env = make_jobenv(vault_password_file=str(vault_pw))
    encrypted = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-vault"), "encrypt_string",
         "--vault-password-file", str(vault_pw), "--name", "oemhost_test_secret", SECRET],
        capture_output=True, text=True, check=True).stdout
    group_vars = env.inventory / "group_vars" / "all"
    group_vars.mkdir(parents=True)
    (group_vars / "vault.yml").write_text(encrypted)
    # a secret in the worker's own environment (e.g. an SMTP password for notices)
    monkeypatch.setenv("OEMHOST_SMTP_PASSWORD", ENV_SECRET)

    w = env.start_worker()
    try:
        job_id = env.submit(kind="remediation", playbook="secret.yml", nodes=["n1"])
        job = env.wait(job_id)
    finally:
        w.stop()
    assert job.status == "succeeded", job.error
    # the play really had the secret (written on the "node"), and the worker's env is
    # not visible to plays
    assert (env.out / "n1.secret").read_text().strip() == SECRET
    assert (env.out / "n1.env").read_text() == ""
    with env.factory() as s:
        events = s.scalars(select(JobEvent).where(JobEvent.run_id == job.run_id)).all()
        assert any("Show it (hidden)" in e.stdout for e in events)
        assert any(e.status == "ignored" for e in events)  # the failing no_log task ran

    stored = [env.state / "oemhost.db", env.state / "oemhost.db-wal",
              *_files(env.state / "jobs")]
    assert any(p.name == "stdout" for p in stored)
    assert any("job_events" in str(p) for p in stored)
    for path in stored:
        if not path.exists():
            continue
        data = path.read_bytes()
        for needle in (SECRET, VAULT_PASSWORD, ENV_SECRET):
            assert needle.encode() not in data, f"{needle!r} found in {path}"
