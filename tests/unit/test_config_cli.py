"""Settings and the CLI's error conventions."""

import re

import pytest

from oemhost.cli import main
from oemhost.config import PROJECT_DIR, load_settings
from oemhost.errors import OemhostError, ValidationError


def test_defaults_suit_a_checkout():
    s = load_settings({})
    assert s.inventory_dir == PROJECT_DIR / "inventories" / "lab"
    assert s.database_url == f"sqlite:///{PROJECT_DIR / '.oemhost' / 'oemhost.db'}"
    assert s.secrets_dir == s.inventory_dir / "secrets"


def test_file_then_environment(tmp_path):
    cfg = tmp_path / "oemhost.toml"
    cfg.write_text('inventory = "inv"\nstate_dir = "/var/lib/x"\n[monitor]\ninterval = 30\n')
    s = load_settings({"OEMHOST_CONFIG": str(cfg)})
    assert s.inventory_dir == tmp_path / "inv"
    assert s.section("monitor") == {"interval": 30}
    assert s.section("absent") == {}
    s = load_settings({"OEMHOST_CONFIG": str(cfg), "OEMHOST_INVENTORY": "/srv/inv"})
    assert str(s.inventory_dir) == "/srv/inv"


@pytest.mark.parametrize("text, message", [("= broken", "config file"),
                                           ("monitor = 3", "[monitor] must be a table")])
def test_bad_config_is_one_clear_error(tmp_path, text, message):
    cfg = tmp_path / "c.toml"
    cfg.write_text(text)
    with pytest.raises(OemhostError, match=re.escape(message)):
        load_settings({"OEMHOST_CONFIG": str(cfg)}).section("monitor")


def test_validation_error_names_fields():
    err = ValidationError({"domains[0].name": "not a domain", "quota_mb": "above plan"},
                          subject="tenant shop1")
    assert str(err) == "tenant shop1: domains[0].name: not a domain; quota_mb: above plan"


def test_unknown_command_exits_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["nonsense"])
    assert exc.value.code == 2
    assert capsys.readouterr().err.startswith("oemhost: error: argument COMMAND")


def test_missing_config_file_is_one_line(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("OEMHOST_CONFIG", str(tmp_path / "nope.toml"))
    assert main(["lab", "status"]) == 1
    missing = tmp_path / "nope.toml"
    assert capsys.readouterr().err == f"oemhost: error: config file {missing} not found\n"
