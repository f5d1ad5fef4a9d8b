"""``oemhost user ...``: panel logins for ops (provider admins, resets, unlocks)."""

from __future__ import annotations

import getpass
import sys
from contextlib import contextmanager


def register(sub) -> None:
    p = sub.add_parser("user", help="panel logins: provider admins, password resets, unlocks")
    usub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    c = usub.add_parser("create-admin", help="create a provider admin (ops) login")
    c.add_argument("login")
    c.add_argument("--name", default="", help="display name")
    c.add_argument("--password-stdin", action="store_true",
                   help="read the password from standard input (default: generate one)")
    c.set_defaults(func=_create_admin)
    r = usub.add_parser("reset-password", help="give a login a new password")
    r.add_argument("login")
    r.add_argument("--reseller", default=None,
                   help="the reseller whose staff or end user this is (default: provider)")
    r.add_argument("--password-stdin", action="store_true",
                   help="read the password from standard input (default: generate one)")
    r.set_defaults(func=_reset)
    u = usub.add_parser("unlock", help="lift a lockout after failed logins")
    u.add_argument("login")
    u.add_argument("--reseller", default=None)
    u.set_defaults(func=_unlock)
    ls = usub.add_parser("list", help="list logins")
    ls.add_argument("--reseller", default=None)
    ls.set_defaults(func=_list)


@contextmanager
def _session(settings):
    from oemhost.db import make_engine, migrate, session_factory

    migrate(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        with session_factory(engine)() as session:
            yield session
    finally:
        engine.dispose()


def _password(args) -> tuple[str, bool]:
    from oemhost import accounts

    if args.password_stdin:
        line = sys.stdin.readline().rstrip("\n") if not sys.stdin.isatty() else \
            getpass.getpass("password: ")
        return line, False
    return accounts.generate_password(), True


def _actor() -> str:
    import os

    name = os.environ.get("SUDO_USER") or getpass.getuser() or "root"
    return f"ops:{''.join(c for c in name if c.isalnum() or c in '._-')[:64] or 'root'}"


def _create_admin(args, settings) -> int:
    from oemhost import accounts

    password, generated = _password(args)
    with _session(settings) as s:
        user = accounts.create_user(s, kind="provider", login=args.login, password=password,
                                    display_name=args.name, created_by=_actor())
        accounts.audit(s, actor=_actor(), action="login.issue", target=f"provider/{user.login}",
                       message="oemhost user create-admin")
        s.commit()
    print(f"provider admin {args.login} created")
    if generated:
        print(f"password: {password}")
    return 0


def _find(s, args):
    from oemhost import accounts
    from oemhost.errors import NotFoundError

    realm = f"r:{args.reseller}" if args.reseller else "provider"
    user = accounts.find_user(s, realm, args.login)
    if user is None:
        raise NotFoundError(f"no login {args.login} in {realm}")
    return user


def _reset(args, settings) -> int:
    from oemhost import accounts

    password, generated = _password(args)
    with _session(settings) as s:
        user = _find(s, args)
        accounts.set_password(s, user, password)
        accounts.audit(s, actor=_actor(), action="login.reset", target=f"{user.realm}/{user.login}",
                       reseller=user.reseller, tenant=user.tenant,
                       message="oemhost user reset-password")
        s.commit()
    print(f"password of {args.login} reset; its sessions are ended")
    if generated:
        print(f"password: {password}")
    return 0


def _unlock(args, settings) -> int:
    from oemhost import accounts

    with _session(settings) as s:
        user = _find(s, args)
        accounts.unlock(s, user)
        accounts.audit(s, actor=_actor(), action="login.unlock",
                       target=f"{user.realm}/{user.login}", reseller=user.reseller)
        s.commit()
    print(f"{args.login} unlocked")
    return 0


def _list(args, settings) -> int:
    from oemhost import accounts

    with _session(settings) as s:
        for u in accounts.list_users(s, reseller=args.reseller):
            state = "active" if u.active else "disabled"
            if u.locked_until:
                state += " locked"
            print(f"{u.kind:9} {u.realm:24} {u.login:32} {state}")
    return 0
