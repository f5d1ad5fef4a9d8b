# Copyright: oemhost contributors
# MIT License (see the project's pyproject.toml)
"""Lookup: ansible.builtin.template without the deep copy of every variable."""

from __future__ import annotations

from ansible.plugins.lookup import template as builtin_template

DOCUMENTATION = r"""
name: oemhost_template
short_description: Render a template file, as ansible.builtin.template, for large inventories
description:
  - Exactly C(ansible.builtin.template) (same options, same search path, same result),
    except that the variables the template sees are a shallow copy of the task's variables
    instead of a deep one.
  - The builtin lookup deep-copies every variable before it renders (its own FIXME asks
    why). On a hosting node that copies every tenant record, about 0.6 s per use with 500
    tenants, on every task that renders a bundle; rendering never changes a variable, so
    a shallow copy gives the same result.
options:
  _terms:
    description: The template files to render.
  variable_start_string:
    description: The string marking the beginning of a print statement.
    default: '{{'
    type: str
  variable_end_string:
    description: The string marking the end of a print statement.
    default: '}}'
    type: str
  template_vars:
    description: A dictionary, the keys become additional variables available for templating.
    default: {}
    type: dict
  comment_start_string:
    description: The string marking the beginning of a comment statement.
    type: str
    default: '{#'
  comment_end_string:
    description: The string marking the end of a comment statement.
    type: str
    default: '#}'
  trim_blocks:
    description: Remove the first newline after a block.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Write the tenants' vhosts
  oemhost_files:
    root: /etc/apache2/oemhost/tenants
    bundle: "{{ lookup('oemhost_template', 'etc/apache2/oemhost/tenants.bundle.j2') }}"
"""

RETURN = r"""
_raw:
  description: The rendered templates.
  type: list
  elements: str
"""


def _shallow(variables):
    return dict(variables)


class LookupModule(builtin_template.LookupModule):
    def run(self, terms, variables=None, **kwargs):
        # the builtin module calls deepcopy(variables) once per term; a worker process runs
        # one task at a time, so swapping the name for the call's duration is safe
        saved = builtin_template.deepcopy
        builtin_template.deepcopy = _shallow
        try:
            return super().run(terms, variables, **kwargs)
        finally:
            builtin_template.deepcopy = saved
