"""Accounts: who may log in to the panels and the API, and the audit log of what they did.

Three kinds of panel user share one table (``PanelUser.kind``):

* ``provider``: the provider's operators (realm ``provider``);
* ``reseller``: a reseller's staff (realm ``r:<reseller>``);
* ``enduser``: an end user's login, linked to its tenant (realm ``r:<reseller>``; the
  login is the tenant id).

A login name is unique within its realm, so a reseller's login page (its own host name or
``/r/<reseller>/login``) finds its staff and its end users, and nobody else.

Passwords are argon2id hashes; API tokens are random 256-bit secrets kept as SHA-256
digests (a fast hash is right for high-entropy secrets: there is nothing to brute-force).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from oemhost.db import Base
from oemhost.db.types import UTCDateTime as _UTC
from oemhost.db.types import utcnow

USER_KINDS = ("provider", "reseller", "enduser")



class PanelUser(Base):
    """A login to the provider, reseller or end-user panel."""

    __tablename__ = "panel_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    realm: Mapped[str] = mapped_column(String(40))
    login: Mapped[str] = mapped_column(String(64))
    reseller: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    tenant: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    locale: Mapped[str | None] = mapped_column(String(8), nullable=True)
    # bumped on every password change: sessions made before it stop working
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(_UTC, nullable=True)
    last_login_at: Mapped[datetime | None] = mapped_column(_UTC, nullable=True)
    password_changed_at: Mapped[datetime] = mapped_column(_UTC, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(_UTC, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200), default="")

    __table_args__ = (UniqueConstraint("realm", "login", name="uq_panel_users_realm_login"),)

    @property
    def actor(self) -> str:
        """The actor string the store and the job engine record for this user."""
        if self.kind == "provider":
            return f"ops:{self.login}"
        if self.kind == "reseller":
            return f"reseller:{self.reseller}/{self.login}"
        return f"tenant:{self.tenant}"

    def __repr__(self) -> str:
        return f"<PanelUser {self.kind} {self.realm}/{self.login}>"


class LoginAttempt(Base):
    """One login attempt (kept for throttling; pruned after a day)."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    realm: Mapped[str] = mapped_column(String(40))
    login: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str] = mapped_column(String(64))
    success: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(_UTC, default=utcnow)

    __table_args__ = (
        Index("ix_login_attempts_login", "realm", "login", "at"),
        Index("ix_login_attempts_ip", "ip", "at"),
    )


class ApiToken(Base):
    """A reseller's API token; only its SHA-256 digest is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reseller: Mapped[str] = mapped_column(String(40), index=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(_UTC, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(_UTC, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(_UTC, nullable=True)

    @property
    def actor(self) -> str:
        return f"reseller:{self.reseller}/api-{self.id}"


class AuditEntry(Base):
    """One change made through the panels, the API or the ops CLI (or a refused login)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(_UTC, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    reseller: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    tenant: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    action: Mapped[str] = mapped_column(String(80))
    target: Mapped[str] = mapped_column(String(300), default="")
    result: Mapped[str] = mapped_column(String(16), default="ok")  # ok | refused | error
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    message: Mapped[str] = mapped_column(Text, default="")
    ip: Mapped[str] = mapped_column(String(64), default="")
    inventory_commit: Mapped[str | None] = mapped_column(String(64), nullable=True)
    job_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
