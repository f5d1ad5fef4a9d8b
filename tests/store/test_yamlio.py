"""The strict loader and the canonical dumper of state files."""

import subprocess
import sys
from pathlib import Path

import pytest

from oemhost.store import yamlio

PROJECT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("text, message", [
    ("a: &x [1]\nb: *x\n", "anchors and aliases"),
    ("a: 1\na: 2\n", "duplicate key"),
    ("a: !!python/object/apply:os.system ['true']\n", "not allowed"),
    ("a: !unsafe x\n", "not allowed"),
    ("<<: {a: 1}\n", "merge keys"),
    ("a: [\n", "invalid YAML"),
    ("1: x\n", "keys must be strings"),
    ("a: !!binary aGVsbG8=\n", "not allowed"),
])
def test_loader_refuses_structure_a_hand_edit_could_smuggle_in(text, message):
    with pytest.raises(yamlio.StateFileError, match=message):
        yamlio.loads(text, source="t.yml")


def test_loader_keeps_dates_as_text_and_core_types():
    data = yamlio.loads("---\nd: 2026-11-01\nt: 2026-11-24T10:00:00Z\nn: 3\nb: true\nz: null\n")
    assert data == {"d": "2026-11-01", "t": "2026-11-24T10:00:00Z", "n": 3, "b": True, "z": None}


HOSTILE = [
    "{{ lookup('pipe', 'touch canary') }}", "{% for x in range(3) %}x{% endfor %}",
    "!!python/object:os.system", "&anchor *alias", "; rm -rf / `id` $(id) | &&",
    "'\"quotes\"'", "key: value", "- item", "# comment", "yes", "null", "0o777", "1e3",
    "2026-11-01", "line1\nline2", "山田商店", "@at", "%percent", "|pipe", ">fold",
    "trailing space ", " leading", "tab\tinside", "{SHA512-CRYPT}$6$x",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_dump_then_load_round_trips_every_string(value):
    record = {"id": "x", "value": value, "nested": [{"v": value}]}
    assert yamlio.loads(yamlio.dumps(record)) == record


def test_dumped_files_pass_yamllint(tmp_path):
    path = tmp_path / "t.yml"
    path.write_bytes(yamlio.dumps({"id": "x", "list": [{"a": 1, "b": ["c"]}], "s": HOSTILE}))
    proc = subprocess.run([sys.executable, "-m", "yamllint", "-s", "-c",
                           str(PROJECT / ".yamllint"), str(path)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout


def test_blob_id_is_gits(tmp_path):
    data = b"---\nid: x\n"
    out = subprocess.run(["git", "hash-object", "--stdin"], input=data, capture_output=True,
                         check=True).stdout.decode().strip()
    assert yamlio.blob_id(data) == out


def test_atomic_write_replaces_and_leaves_no_temp_files(tmp_path):
    path = tmp_path / "d" / "f.yml"
    yamlio.atomic_write(path, b"one")
    yamlio.atomic_write(path, b"two")
    assert path.read_bytes() == b"two"
    assert sorted(p.name for p in path.parent.iterdir()) == ["f.yml"]
