"""Helpers of the panel tests (imported by conftest.py and the tests)."""

from __future__ import annotations

import re

PASSWORD = "correct-horse-battery"

CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|'
                     r'name="csrf_token" value="([^"]+)"')


class Browser:
    """A test client that logs in and posts forms with their CSRF token like a browser."""

    def __init__(self, client):
        self.client = client
        self.token: str | None = None

    def get(self, url, **kw):
        resp = self.client.get(url, **kw)
        m = CSRF_RE.search(resp.get_data(as_text=True)) if resp.mimetype == "text/html" \
            else None
        if m:
            self.token = m.group(1) or m.group(2)
        return resp

    def post(self, url, data=None, *, page=None, **kw):
        """POST ``data`` with the CSRF token of ``page`` (default: the same URL)."""
        if page is not False:
            self.get(page or url)
        data = dict(data or {})
        data.setdefault("csrf_token", self.token)
        return self.client.post(url, data=data, **kw)

    def login(self, login, password=PASSWORD, *, path="/login"):
        resp = self.post(path, {"login": login, "password": password})
        assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
        return resp
