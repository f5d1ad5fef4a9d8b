"""Hosting state handed to the project's Ansible filter plugins, as plain Python data.

Since ansible-core 2.19 a variable reaches a filter as a *lazy* container: every value read
from it goes through the templar (and every filter's result is wrapped again). For a
node's tenant list that costs about 1 ms per tenant per task (measured with 500 tenants:
0.5 s to walk the list once), on every task that uses it, which made the tenant-scoped
converge of one tenant cost as much as a full one.

:func:`native` copies such a value to plain dicts and lists *without* templating it. The
hosting state is data, never a template (the inventory plugins hand it to Ansible
untrusted, so Ansible would not render it either); only a value that Ansible itself trusts
as a template and that holds template syntax (an ops- or test-written ``host_vars`` entry
such as ``password_hash: "{{ lookup('file', ...) }}"``) makes it take the slow path:
the whole value is then read through Ansible, rendered as before.

The only private name used is the lazy containers' ``_non_lazy_copy`` (ansible-core is
pinned); without it the value is read the ordinary way.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

try:
    from ansible.template import is_trusted_as_template
except ImportError:  # not under Ansible (unit tests of the filters)
    def is_trusted_as_template(value: object) -> bool:
        return False


def _raw(value: Any) -> Any:
    """A plain copy of ``value``, lazy containers unwrapped, nothing templated."""
    if isinstance(value, dict):
        copy = getattr(value, "_non_lazy_copy", None)
        items = copy().items() if copy is not None else value.items()
        return {k: _raw(v) for k, v in items}
    if isinstance(value, (list, tuple)):
        copy = getattr(value, "_non_lazy_copy", None)
        return [_raw(v) for v in (copy() if copy is not None else value)]
    return value


def _has_template(value: Any) -> bool:
    if isinstance(value, str):
        return ("{{" in value or "{%" in value) and is_trusted_as_template(value)
    if isinstance(value, dict):
        return any(_has_template(k) or _has_template(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_template(v) for v in value)
    return False


def _rendered(value: Any) -> Any:
    """A plain copy read the ordinary way (Ansible renders what it trusts)."""
    if isinstance(value, dict):
        return {k: _rendered(value[k]) for k in value}
    if isinstance(value, (list, tuple)):
        return [_rendered(v) for v in value]
    return value


def native(value: Any) -> Any:
    """``value`` (a filter's argument) as plain dicts and lists; see the module's text."""
    if not isinstance(value, (dict, list, tuple)):
        return value
    raw = _raw(value)
    return _rendered(value) if _has_template(raw) else raw


def plain_args(fn: Callable) -> Callable:
    """``fn`` made a filter whose arguments arrive as plain data (see :func:`native`)."""
    @functools.wraps(fn)
    def filter_(*args: Any, **kwargs: Any) -> Any:
        return fn(*map(native, args), **{k: native(v) for k, v in kwargs.items()})
    return filter_
