from __future__ import annotations

import grp
import os
import pwd

import pytest
from modload import load as load_module

files = load_module("oemhost_files")
ME = pwd.getpwuid(os.getuid()).pw_name
MYGROUP = grp.getgrgid(os.getgid()).gr_name
MARK = "#### oemhost-file: "


def bundle(**contents: str) -> str:
    return "".join(f"{MARK}{name}\n{text}" for name, text in contents.items())


def test_split_bundle_gives_each_file_its_section():
    out = files.split_bundle("\n" + bundle(**{"a.conf": "one\ntwo\n", "b.conf": "three\n"}), MARK)
    assert out == {"a.conf": "one\ntwo\n", "b.conf": "three\n"}


@pytest.mark.parametrize("text", [
    "stray\n" + MARK + "a.conf\nx\n",          # text before the first marker
    MARK + "../evil.conf\nx\n",                # a path, not a name
    MARK + "a.conf\nx\n" + MARK + "a.conf\ny\n",  # twice
])
def test_split_bundle_refuses_bad_bundles(text):
    with pytest.raises(files.BundleError):
        files.split_bundle(text, MARK)


def args(root, text, **extra):
    return dict(root=str(root), bundle=text, owner=ME, group=MYGROUP, **extra)


def test_write_is_idempotent_and_check_mode_changes_nothing(tmp_path, run_module):
    root = tmp_path / "conf"
    text = bundle(**{"a.conf": "A\n", "b.conf": "B\n"})
    res = run_module("oemhost_files", args(root, text), check=True)
    assert res["changed"] and res["written"] == ["a.conf", "b.conf"]
    assert not root.exists()
    res = run_module("oemhost_files", args(root, text))
    assert res["changed"] and (root / "a.conf").read_text() == "A\n"
    res = run_module("oemhost_files", args(root, text))
    assert not res["changed"], res


def test_prune_and_scope(tmp_path, run_module):
    root = tmp_path / "conf"
    run_module("oemhost_files", args(root, bundle(**{"a.conf": "A\n", "b.conf": "B\n"})))
    (root / "keep.txt").write_text("not matched by the pattern")
    # scoped to b.conf: b goes (absent from the bundle), a stays although absent too
    res = run_module("oemhost_files", args(root, "", only=["b.conf"]))
    assert res["removed"] == ["b.conf"] and (root / "a.conf").exists()
    # unscoped: everything matching *.conf that is not in the bundle goes
    res = run_module("oemhost_files", args(root, bundle(**{"c.conf": "C\n"})))
    assert res["removed"] == ["a.conf"] and res["written"] == ["c.conf"]
    assert (root / "keep.txt").exists()


def test_diff_shows_the_change(tmp_path, run_module):
    root = tmp_path / "conf"
    run_module("oemhost_files", args(root, bundle(**{"a.conf": "old\n"})))
    res = run_module("oemhost_files", args(root, bundle(**{"a.conf": "new\n"})), check=True)
    assert res["diff"] == [{"before": "old\n", "after": "new\n",
                            "before_header": f"{root}/a.conf", "after_header": f"{root}/a.conf"}]
    assert (root / "a.conf").read_text() == "old\n"


def test_failed_validation_puts_everything_back(tmp_path, run_module):
    root = tmp_path / "conf"
    run_module("oemhost_files", args(root, bundle(**{"a.conf": "good\n", "b.conf": "B\n"})))
    checker = tmp_path / "check.sh"
    checker.write_text(f"#!/bin/sh\n! grep -q bad {root}/a.conf\n")
    checker.chmod(0o755)
    res = run_module("oemhost_files", args(root, bundle(**{"a.conf": "bad\n", "n.conf": "N\n"}),
                                           validate=[str(checker)]))
    assert res.get("failed") and "failed, nothing changed" in res["msg"]
    assert (root / "a.conf").read_text() == "good\n"
    assert (root / "b.conf").read_text() == "B\n"
    assert not (root / "n.conf").exists()


def test_validate_each_checks_every_written_file_alone(tmp_path, run_module):
    root = tmp_path / "conf"
    run_module("oemhost_files", args(root, bundle(**{"a.conf": "good\n", "b.conf": "B\n"})))
    seen = tmp_path / "seen"
    checker = tmp_path / "check.sh"
    checker.write_text(f'#!/bin/sh\necho "$1" >> {seen}\n! grep -q bad "$1"\n')
    checker.chmod(0o755)
    res = run_module("oemhost_files", args(root, bundle(**{"a.conf": "new\n", "b.conf": "B\n",
                                                           "c.conf": "C\n"}),
                                           validate_each=[str(checker), "%s"]))
    assert res["changed"] and res["written"] == ["a.conf", "c.conf"]
    # only what was written is checked, each on its own
    assert seen.read_text().split() == [f"{root}/a.conf", f"{root}/c.conf"]
    res = run_module("oemhost_files", args(root, bundle(**{"a.conf": "new\n", "b.conf": "B\n",
                                                           "c.conf": "bad\n", "d.conf": "D\n"}),
                                           validate_each=[str(checker), "%s"]))
    assert res.get("failed") and f"{root}/c.conf failed, nothing changed" in res["msg"]
    assert (root / "c.conf").read_text() == "C\n" and not (root / "d.conf").exists()
