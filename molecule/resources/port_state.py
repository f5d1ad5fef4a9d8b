#!/usr/bin/env python3
"""Print how a TCP port answers from here: open, refused (closed) or filtered (dropped)."""

import socket
import sys

host, port = sys.argv[1], int(sys.argv[2])
try:
    socket.create_connection((host, port), timeout=float(sys.argv[3]) if len(sys.argv) > 3 else 3)
    print("open")
except ConnectionRefusedError:
    print("refused")
except TimeoutError:
    print("filtered")
except OSError as exc:
    print(f"error: {exc}")
