"""Check that every collection pinned in requirements.yml is installed at that version.

Galaxy is unreachable here, so collections come from the `ansible` PyPI bundle; this
check makes a bundle upgrade that moves a collection visible instead of silent.
"""

import json
import subprocess
import sys
from pathlib import Path

import yaml


def main() -> int:
    root = Path(__file__).resolve().parent.parent
    wanted = yaml.safe_load((root / "requirements.yml").read_text())["collections"]
    galaxy = Path(sys.executable).parent / "ansible-galaxy"
    out = subprocess.run([str(galaxy), "collection", "list", "--format", "json"],
                         check=True, capture_output=True, text=True, cwd=root).stdout
    installed: dict[str, str] = {}
    for path_entries in json.loads(out).values():
        for name, info in path_entries.items():
            installed.setdefault(name, info["version"])
    bad = []
    for item in wanted:
        have = installed.get(item["name"])
        if have != item["version"]:
            bad.append(f"{item['name']}: want {item['version']}, installed {have or 'none'}")
    if bad:
        print("collections do not match requirements.yml: " + "; ".join(bad), file=sys.stderr)
        return 1
    print(f"collections ok ({len(wanted)} pinned)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
