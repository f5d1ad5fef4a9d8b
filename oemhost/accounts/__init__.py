"""The core side of logins: panel users, throttling and lockout, API tokens, audit log.

Every function works in the caller's SQLAlchemy session and only flushes; the caller
commits (together with anything else it changed). The panels, the API and the ops CLI
(``oemhost user ...``) all go through here::

    from oemhost import accounts

    user = accounts.create_user(session, kind="reseller", login="alice", password=pw,
                                reseller="acme", created_by="ops:bob")
    user = accounts.authenticate(session, realm="r:acme", login="alice", password=pw,
                                 ip="192.0.2.1")          # raises LoginRefused
    token, secret = accounts.issue_token(session, reseller="acme", name="billing",
                                         created_by="reseller:acme/alice")
    accounts.audit(session, actor=user.actor, action="tenant.add", target="shop1", ...)

Passwords: argon2id (argon2-cffi's RFC 9106 low-memory profile), rehashed on login when
the parameters change; plaintext is never stored or logged.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from oemhost.db.models.accounts import (
    USER_KINDS,
    ApiToken,
    AuditEntry,
    LoginAttempt,
    PanelUser,
    utcnow,
)
from oemhost.errors import ConflictError, NotFoundError, OemhostError, ValidationError

__all__ = [
    "ApiToken", "AuditEntry", "LoginAttempt", "LoginRefused", "PanelUser", "Policy",
    "audit", "authenticate", "create_user", "find_user", "hash_password", "issue_token",
    "list_audit", "list_tokens", "list_users", "realm_of", "revoke_token", "set_password",
    "set_active", "unlock", "verify_password", "verify_token",
]

LOGIN_RE = re.compile(r"^[a-z][a-z0-9._-]{1,31}$")
TENANT_RE = re.compile(r"^[a-z][a-z0-9]{2,15}$")
SLUG_RE = re.compile(r"^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){1,30}$")
TOKEN_PREFIX = "oht_"  # noqa: S105 - a marker, not a secret

_hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory profile


def configure_hashing(web: dict[str, Any]) -> None:
    """``[web] argon2 = {time_cost = 3, memory_kib = 65536, parallelism = 4}`` (the
    defaults: RFC 9106's low-memory profile). Existing hashes keep verifying; they are
    rehashed with the new parameters at the next login."""
    global _hasher, _DUMMY_HASH
    params = web.get("argon2") or {}
    if not isinstance(params, dict) or set(params) - {"time_cost", "memory_kib",
                                                       "parallelism"}:
        raise OemhostError("config: [web] argon2: a table of time_cost, memory_kib, "
                           "parallelism")
    for key, value in params.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise OemhostError(f"config: [web] argon2.{key}: a positive whole number")
    _hasher = PasswordHasher(time_cost=params.get("time_cost", 3),
                             memory_cost=params.get("memory_kib", 65536),
                             parallelism=params.get("parallelism", 4))
    _DUMMY_HASH = _hasher.hash("not a password of anyone")


class LoginRefused(OemhostError):
    """A refused login. ``reason`` is for the audit log; the message is what users see
    (the same for an unknown login and a wrong password)."""

    def __init__(self, message: str, *, reason: str, retry_after: int | None = None):
        super().__init__(message)
        self.reason = reason
        self.retry_after = retry_after


class Policy:
    """Throttling and lockout (``[web]`` settings ``lockout_*``; these are the defaults)."""

    def __init__(self, *, max_failures: int = 5, window_s: int = 900, lockout_s: int = 900,
                 ip_max_failures: int = 30) -> None:
        self.max_failures = max_failures  # failures of one login within window -> lock
        self.window = timedelta(seconds=window_s)
        self.lockout = timedelta(seconds=lockout_s)
        self.ip_max_failures = ip_max_failures  # failures from one address within window

    @classmethod
    def from_section(cls, web: dict[str, Any]) -> Policy:
        kw = {}
        for key, name in (("lockout_failures", "max_failures"), ("lockout_window", "window_s"),
                          ("lockout_seconds", "lockout_s"), ("ip_max_failures",
                                                             "ip_max_failures")):
            if key in web:
                value = web[key]
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    raise OemhostError(f"config: [web] {key}: a positive whole number")
                kw[name] = value
        return cls(**kw)


# --- passwords ----------------------------------------------------------------------------

def check_password_policy(password: Any, field: str = "password") -> str:
    if not isinstance(password, str) or not password:
        raise ValidationError({field: "a password is required"})
    if not 10 <= len(password) <= 128:
        raise ValidationError({field: "must be 10 to 128 characters"})
    if any(ord(c) < 32 or ord(c) == 127 for c in password):
        raise ValidationError({field: "must not contain control characters"})
    return password


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def generate_password(length: int = 16) -> str:
    """A random password without look-alike characters (shown once, then forgotten)."""
    alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(length))


# --- users --------------------------------------------------------------------------------

def realm_of(kind: str, reseller: str | None) -> str:
    return "provider" if kind == "provider" else f"r:{reseller}"


def create_user(session: Session, *, kind: str, login: str, password: str,
                reseller: str | None = None, tenant: str | None = None,
                display_name: str = "", locale: str | None = None,
                created_by: str) -> PanelUser:
    """A new panel login. End users log in with their tenant id (``login`` = tenant)."""
    errors: dict[str, str] = {}
    if kind not in USER_KINDS:
        errors["kind"] = f"one of {', '.join(USER_KINDS)}"
    if kind == "enduser":
        if not isinstance(tenant, str) or not TENANT_RE.match(tenant):
            errors["tenant"] = "a tenant id"
        elif login != tenant:
            errors["login"] = "an end user's login ID is its tenant id"
    elif tenant is not None:
        errors["tenant"] = "only end users belong to a tenant"
    if not isinstance(login, str) or not LOGIN_RE.match(login):
        errors["login"] = ("2 to 32 characters: lowercase letters, digits, '.', '_', '-', "
                           "starting with a letter")
    if kind in ("reseller", "enduser"):
        if not isinstance(reseller, str) or not SLUG_RE.match(reseller):
            errors["reseller"] = "a reseller id"
    elif reseller is not None:
        errors["reseller"] = "provider admins belong to no reseller"
    if locale not in (None, "ja", "en"):
        errors["locale"] = "ja or en"
    if not isinstance(display_name, str) or len(display_name) > 200 or any(
            ord(c) < 32 for c in display_name):
        errors["display_name"] = "text of at most 200 characters"
    try:
        check_password_policy(password)
    except ValidationError as exc:
        errors.update(exc.errors)
    if errors:
        raise ValidationError(errors, subject="panel user")
    realm = realm_of(kind, reseller)
    if find_user(session, realm, login) is not None:
        raise ConflictError(f"login {login} already exists in {realm}")
    user = PanelUser(kind=kind, realm=realm, login=login, reseller=reseller, tenant=tenant,
                     display_name=display_name, password_hash=hash_password(password),
                     active=True, locale=locale, session_epoch=0, failed_logins=0,
                     created_by=created_by, created_at=utcnow(), password_changed_at=utcnow())
    session.add(user)
    session.flush()
    return user


def find_user(session: Session, realm: str, login: str) -> PanelUser | None:
    return session.scalar(select(PanelUser).where(PanelUser.realm == realm,
                                                  PanelUser.login == login))


def get_user(session: Session, user_id: int) -> PanelUser:
    user = session.get(PanelUser, user_id)
    if user is None:
        raise NotFoundError(f"panel user {user_id} not found")
    return user


def list_users(session: Session, *, kind: str | None = None, reseller: str | None = None,
               tenant: str | None = None) -> list[PanelUser]:
    q = select(PanelUser)
    if kind:
        q = q.where(PanelUser.kind == kind)
    if reseller:
        q = q.where(PanelUser.reseller == reseller)
    if tenant:
        q = q.where(PanelUser.tenant == tenant)
    return list(session.scalars(q.order_by(PanelUser.realm, PanelUser.login)))


def set_password(session: Session, user: PanelUser, password: str) -> None:
    """New password; ends the user's other sessions and lifts a lockout."""
    check_password_policy(password)
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    user.session_epoch += 1
    user.failed_logins = 0
    user.locked_until = None
    session.flush()


def set_active(session: Session, user: PanelUser, active: bool) -> None:
    user.active = active
    if not active:
        user.session_epoch += 1
    session.flush()


def unlock(session: Session, user: PanelUser) -> None:
    user.failed_logins = 0
    user.locked_until = None
    session.flush()


def _record_attempt(session: Session, realm: str, login: str, ip: str, success: bool) -> None:
    session.add(LoginAttempt(realm=realm, login=login[:64], ip=ip[:64], success=success,
                             at=utcnow()))
    session.flush()


def authenticate(session: Session, *, realm: str, login: str, password: str, ip: str,
                 policy: Policy | None = None, now: datetime | None = None) -> PanelUser:
    """The user when ``login``/``password`` are right; else :class:`LoginRefused`.

    Refused (and recorded) when the address made too many failed attempts recently, when
    the login is locked after repeated failures, or inactive. An unknown login costs one
    password verification too, so that timing does not tell which logins exist.
    """
    policy = policy or Policy()
    now = now or utcnow()
    login = (login or "").strip().lower()[:64]
    since = now - policy.window
    ip_failures = session.scalar(
        select(func.count()).select_from(LoginAttempt).where(
            LoginAttempt.ip == ip, LoginAttempt.success.is_(False), LoginAttempt.at >= since))
    if ip_failures >= policy.ip_max_failures:
        _record_attempt(session, realm, login, ip, False)
        raise LoginRefused("Too many failed logins from your address; try again later.",
                           reason="throttled", retry_after=int(policy.window.total_seconds()))
    user = find_user(session, realm, login) if LOGIN_RE.match(login) else None
    if user is not None and user.locked_until is not None and user.locked_until > now:
        _record_attempt(session, realm, login, ip, False)
        wait = int((user.locked_until - now).total_seconds()) + 1
        raise LoginRefused("This login is locked after repeated failures; try again later.",
                           reason="locked", retry_after=wait)
    ok = verify_password(user.password_hash if user else _DUMMY_HASH, password or "")
    if not ok or user is None:
        _record_attempt(session, realm, login, ip, False)
        if user is not None:
            user.failed_logins += 1
            recent = session.scalar(
                select(func.count()).select_from(LoginAttempt).where(
                    LoginAttempt.realm == realm, LoginAttempt.login == login,
                    LoginAttempt.success.is_(False), LoginAttempt.at >= since))
            if recent >= policy.max_failures:
                user.locked_until = now + policy.lockout
            session.flush()
        raise LoginRefused("Wrong login ID or password.", reason="bad credentials")
    if not user.active:
        _record_attempt(session, realm, login, ip, False)
        raise LoginRefused("This login is disabled.", reason="inactive")
    _record_attempt(session, realm, login, ip, True)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    session.flush()
    return user


_DUMMY_HASH = _hasher.hash("not a password of anyone")


def prune_attempts(session: Session, older_than: timedelta = timedelta(days=1)) -> int:
    res = session.execute(delete(LoginAttempt).where(LoginAttempt.at < utcnow() - older_than))
    return res.rowcount or 0


# --- API tokens ---------------------------------------------------------------------------

def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_token(session: Session, *, reseller: str, name: str,
                created_by: str) -> tuple[ApiToken, str]:
    """A new API token for ``reseller``; the secret is returned once and never stored."""
    if not isinstance(reseller, str) or not SLUG_RE.match(reseller):
        raise ValidationError({"reseller": "a reseller id"})
    if not isinstance(name, str) or not name.strip() or len(name) > 100 or any(
            ord(c) < 32 for c in name):
        raise ValidationError({"name": "a name of 1 to 100 characters"})
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(reseller=reseller, name=name.strip(), prefix=secret[:12],
                     digest=_digest(secret), created_by=created_by, created_at=utcnow())
    session.add(token)
    session.flush()
    return token, secret


def verify_token(session: Session, secret: str) -> ApiToken | None:
    """The live token whose secret this is, or None (also for revoked tokens)."""
    if not isinstance(secret, str) or not secret.startswith(TOKEN_PREFIX) or len(secret) > 100:
        return None
    digest = _digest(secret)
    token = session.scalar(select(ApiToken).where(ApiToken.prefix == secret[:12]))
    if token is None or not hmac.compare_digest(token.digest, digest) or \
            token.revoked_at is not None:
        return None
    token.last_used_at = utcnow()
    session.flush()
    return token


def list_tokens(session: Session, reseller: str) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).where(ApiToken.reseller == reseller)
                                .order_by(ApiToken.id)))


def revoke_token(session: Session, reseller: str, token_id: int) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None or token.reseller != reseller:
        raise NotFoundError(f"token {token_id} not found")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
    session.flush()
    return token


# --- audit log ----------------------------------------------------------------------------

def audit(session: Session, *, actor: str, action: str, target: str = "",
          reseller: str | None = None, tenant: str | None = None, result: str = "ok",
          detail: dict[str, Any] | None = None, message: str = "", ip: str = "",
          inventory_commit: str | None = None, job_id: int | None = None) -> AuditEntry:
    """Record one change (or a refused one). ``detail`` must hold no secrets."""
    entry = AuditEntry(at=utcnow(), actor=actor[:200], action=action[:80],
                       target=(target or "")[:300], reseller=reseller, tenant=tenant,
                       result=result, detail=detail or {}, message=(message or "")[:2000],
                       ip=(ip or "")[:64], inventory_commit=inventory_commit, job_id=job_id)
    session.add(entry)
    session.flush()
    return entry


def list_audit(session: Session, *, reseller: str | None = None, tenant: str | None = None,
               q: str | None = None, page: int = 1,
               per_page: int = 50) -> tuple[list[AuditEntry], int]:
    query = select(AuditEntry)
    if reseller:
        query = query.where(AuditEntry.reseller == reseller)
    if tenant:
        query = query.where(AuditEntry.tenant == tenant)
    if q:
        like = f"%{q.replace('%', '').replace('_', '')}%"
        query = query.where(or_(AuditEntry.actor.like(like), AuditEntry.action.like(like),
                                AuditEntry.target.like(like)))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(AuditEntry.id.desc())
                           .offset((max(page, 1) - 1) * per_page).limit(per_page))
    return list(rows), total
