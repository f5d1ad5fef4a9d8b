"""Callback plugin: a job's ansible-playbook dies with the oemhost worker that started it."""

from __future__ import annotations

import ctypes
import os
import signal

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: oemhost_watchdog
type: aggregate
short_description: end ansible-playbook when the oemhost worker that started it dies
description:
  - Loaded by the oemhost worker for every job (never needed by ops running
    ansible-playbook by hand; without E(OEMHOST_WORKER_PID) it does nothing).
  - Asks the kernel to send SIGTERM to this ansible-playbook when its parent, the worker,
    dies (C(PR_SET_PDEATHSIG)); ansible-playbook then stops its own forks. Without this,
    a SIGKILLed worker would leave an orphan converging a node while the restarted
    worker re-runs the interrupted job there.
options: {}
"""

PR_SET_PDEATHSIG = 1


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "oemhost_watchdog"
    CALLBACK_NEEDS_ENABLED = False

    def __init__(self):
        super().__init__()
        try:
            parent = int(os.environ.get("OEMHOST_WORKER_PID", "0"))
        except ValueError:
            parent = 0
        if parent <= 0:
            return
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent:  # the worker died before the request was in place
            os.kill(os.getpid(), signal.SIGTERM)
