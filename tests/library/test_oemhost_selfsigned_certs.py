from __future__ import annotations

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
