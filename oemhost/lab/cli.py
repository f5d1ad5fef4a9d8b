"""``oemhost lab ...``: boot, inspect, break and remove the lab's nodes."""

from __future__ import annotations

import argparse
import json


def _nodes(value: str) -> int:
    try:
        n = int(value, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid node count {value!r}: not a number") from None
    if not 1 <= n <= 20:
        raise argparse.ArgumentTypeError(f"invalid node count {n}: must be from 1 to 20")
    return n


def register(sub) -> None:
    p = sub.add_parser("lab", help="real Debian 12 nodes on this machine (tests, demo)")
    p.add_argument("--name", default="lab", help="lab name (default: lab)")
    p.add_argument("--inventory", default=None,
                   help="inventory to record the nodes in ('' for none; default: "
                        "inventories/lab for the lab named 'lab')")
    lsub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    up = lsub.add_parser("up", help="boot the lab's nodes (builds the cached image once)")
    up.add_argument("--nodes", type=_nodes, default=2, help="number of nodes (1-20, default 2)")
    up.add_argument("--reuse", action="store_true",
                    help="succeed without change when the lab is already up with that many nodes")
    up.set_defaults(func=_up)
    lsub.add_parser("down", help="stop and remove every node").set_defaults(func=_down)
    st = lsub.add_parser("status", help="show the lab's nodes")
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=_status)
    lsub.add_parser("image", help="build the cached node image").set_defaults(func=_image)
    for action, helptext in (("crash", "kill a node hard (power loss)"),
                             ("cut", "cut a node's network"),
                             ("restore", "restore a node's network"),
                             ("restart", "power-cycle a node (the lab's infrastructure reboot)")):
        a = lsub.add_parser(action, help=helptext)
        a.add_argument("node")
        a.set_defaults(func=_node_action, node_action=action)
    ssh = lsub.add_parser("ssh", help="run a command on a node as root")
    ssh.add_argument("node")
    ssh.add_argument("command", nargs=argparse.REMAINDER)
    ssh.set_defaults(func=_ssh)


def _lab(args, settings):
    from oemhost.lab import lab_for

    return lab_for(settings, args.name, args.inventory)


def _up(args, settings) -> int:
    _lab(args, settings).up(args.nodes, reuse=args.reuse)
    return 0


def _down(args, settings) -> int:
    _lab(args, settings).down()
    return 0


def _image(args, settings) -> int:
    from oemhost.lab import image
    from oemhost.lab.system import preflight

    preflight()
    print(image.build_image(print))
    return 0


def _status(args, settings) -> int:
    st = _lab(args, settings).status()
    if args.json:
        print(json.dumps(st, indent=2))
        return 0 if st["up"] else 3
    if not st["nodes"]:
        print(f"lab {st['name']}: down")
        return 3
    print(f"lab {st['name']} ({st['id']}, {st['subnet']}): {'up' if st['up'] else 'DEGRADED'}")
    for n in st["nodes"]:
        print(f"  {n['name']:8} {n['address']:15} {'running' if n['running'] else 'STOPPED':8}"
              f" ssh={'yes' if n['ssh'] else 'no':3} network={n['network']}")
    return 0 if st["up"] else 3


def _node_action(args, settings) -> int:
    getattr(_lab(args, settings), args.node_action)(args.node)
    return 0


def _ssh(args, settings) -> int:
    proc = _lab(args, settings).ssh(args.node, " ".join(args.command) or "true", timeout=600)
    print(proc.stdout, end="")
    if proc.stderr:
        import sys

        print(proc.stderr, end="", file=sys.stderr)
    return proc.returncode
