from __future__ import annotations

import json

from cryptography import x509
from modload import load as load_module

certs = load_module("oemhost_selfsigned_certs")


def sans_of(pem: bytes) -> list[str]:
    cert = x509.load_pem_x509_certificate(pem)
    return cert.extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)


def test_issue_then_nothing_until_names_change(tmp_path, run_module):
    root = tmp_path / "tls"
    args = {"root": str(root),
            "certs": [{"name": "a.example", "sans": ["a.example", "www.a.example"]}]}
    res = run_module("oemhost_selfsigned_certs", args, check=True)
    assert res["issued"] == ["a.example"] and not root.exists()
    res = run_module("oemhost_selfsigned_certs", args)
    assert res["changed"]
    pem = (root / "a.example" / "fullchain.pem").read_bytes()
    assert sorted(sans_of(pem)) == ["a.example", "www.a.example"]
    assert oct((root / "a.example" / "privkey.pem").stat().st_mode & 0o777) == "0o600"
    assert not run_module("oemhost_selfsigned_certs", args)["changed"]
    args["certs"][0]["sans"].append("shop.a.example")
    res = run_module("oemhost_selfsigned_certs", args)
    assert res["issued"] == ["a.example"]
    assert "shop.a.example" in sans_of((root / "a.example" / "fullchain.pem").read_bytes())


def test_prune_and_installed(tmp_path, run_module):
    root = tmp_path / "tls" / "selfsigned"
    run_module("oemhost_selfsigned_certs", {"root": str(root), "certs": [
        {"name": "a.example", "sans": ["a.example"]},
        {"name": "b.example", "sans": ["b.example"]}]})
    own = tmp_path / "tls" / "b.example"
    own.mkdir()
    (own / "fullchain.pem").write_text("x")
    (own / "privkey.pem").write_text("x")
    res = run_module("oemhost_selfsigned_certs", {
        "root": str(root), "certs": [{"name": "b.example", "sans": ["b.example"]}],
        "installed_root": str(tmp_path / "tls"), "installed_check": ["a.example", "b.example"]})
    assert res["removed"] == ["a.example"] and not (root / "a.example").exists()
    assert res["installed"] == ["b.example"]


def test_needs_issue_reasons():
    cert, key = certs.issue("a.example", ["a.example"], 10, "ec")
    assert certs.needs_issue(cert, key, ["a.example"], 1) is None
    assert certs.needs_issue(cert, key, ["a.example"], 30) == "expiring"
    assert certs.needs_issue(cert, key, ["b.example"], 1) == "names changed"
    _other_cert, other_key = certs.issue("a.example", ["a.example"], 10, "ec")
    assert certs.needs_issue(cert, other_key, ["a.example"], 1) == "key mismatch"
    assert certs.needs_issue(None, key, ["a.example"], 1) == "missing"


def test_checked_record_skips_the_full_check_only_for_the_same_files(tmp_path, run_module):
    root = tmp_path / "tls"
    args = {"root": str(root), "certs": [{"name": "a.example", "sans": ["a.example"]},
                                         {"name": "b.example", "sans": ["b.example"]}]}
    run_module("oemhost_selfsigned_certs", args)
    record_file = root / certs.RECORD
    record = json.loads(record_file.read_text())
    assert sorted(record) == ["a.example", "b.example"]
    assert oct(record_file.stat().st_mode & 0o777) == "0o600"
    cert = (root / "a.example" / "fullchain.pem").read_bytes()
    key = (root / "a.example" / "privkey.pem").read_bytes()
    assert certs.still_good(record["a.example"], cert, key, ["a.example"], 30)
    assert not certs.still_good(record["a.example"], cert, key, ["a.example", "x.example"], 30)
    assert not certs.still_good(record["a.example"], cert, key, ["a.example"], 900)  # renewal due
    assert not certs.still_good({"digest": "x"}, cert, key, ["a.example"], 30)
    # a key swapped behind the record's back: the digest differs, the full check finds it
    _c, other_key = certs.issue("a.example", ["a.example"], 825, "ec")
    (root / "a.example" / "privkey.pem").write_bytes(other_key)
    assert not certs.still_good(record["a.example"], cert, other_key, ["a.example"], 30)
    res = run_module("oemhost_selfsigned_certs", args)
    assert res["issued"] == ["a.example"]
    # a scoped run (no prune) keeps the others' records; a pruning run drops the removed
    run_module("oemhost_selfsigned_certs", {**args, "certs": args["certs"][:1], "prune": False})
    assert sorted(json.loads(record_file.read_text())) == ["a.example", "b.example"]
    run_module("oemhost_selfsigned_certs", {**args, "certs": args["certs"][:1]})
    assert sorted(json.loads(record_file.read_text())) == ["a.example"]
    # a broken record is a cache miss, not an error
    record_file.write_text("{not json")
    res = run_module("oemhost_selfsigned_certs", {**args, "certs": args["certs"][:1]})
    assert not res["changed"]
    assert sorted(json.loads(record_file.read_text())) == ["a.example"]


def test_dir_names_the_directory_and_the_record(tmp_path, run_module):
    root = tmp_path / "tls"
    args = {"root": str(root), "prune": False,
            "certs": [{"name": "node1", "dir": "node", "sans": ["node1"]}]}
    assert run_module("oemhost_selfsigned_certs", args)["issued"] == ["node1"]
    pem = (root / "node" / "fullchain.pem").read_bytes()
    assert sans_of(pem) == ["node1"]
    ftp = {**args, "certs": [{"name": "node1", "dir": "ftp", "sans": ["node1"]}]}
    run_module("oemhost_selfsigned_certs", ftp)
    assert sorted(json.loads((root / certs.RECORD).read_text())) == ["ftp", "node"]
    assert not run_module("oemhost_selfsigned_certs", args)["changed"]
    bad = run_module("oemhost_selfsigned_certs",
                     {**args, "certs": [{"name": "node1", "dir": "../x", "sans": ["node1"]}]})
    assert bad.get("failed") and "not a directory name" in bad["msg"]
