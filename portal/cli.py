"""The portal's commands (06 §6.5), wired into ``etdz`` by :mod:`pipelines.cli` with lazy imports (no other command
imports Django): ``etdz portal [--host H] [--port P]`` and ``etdz accounts add|token|lock|unlock|remove``."""

from __future__ import annotations

import argparse
import getpass
import sys

from etdz.cli import EXIT_CANNOT_START, EXIT_OK, settings_for


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``portal`` and ``accounts`` to the ``etdz`` parser."""
    p = sub.add_parser("portal", help="serve the submission portal (zones check and submit files, provinces approve, "
                                      "reviewers query) on this configuration, loopback by default")
    p.add_argument("--host", help="address to listen on (default: portal_host, 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default: portal_port, 8000)")
    p.set_defaults(func=cmd_portal)
    p = sub.add_parser("accounts", help="manage the portal's accounts")
    acc = p.add_subparsers(dest="action", required=True)
    a = acc.add_parser("add", help="add an account; the password is read from standard input")
    a.add_argument("username")
    a.add_argument("--role", required=True, choices=["zone", "province", "reviewer", "admin"])
    a.add_argument("--zone", default="", help="the zone_code of the registry (role zone)")
    a.add_argument("--province", default="", help="the province as the registry writes it, e.g. 江苏省 (role province)")
    for name, text in (("token", "print a new API token (once, on the last line)"),
                       ("lock", "lock an account until it is unlocked"),
                       ("unlock", "unlock an account (also ends a lockout after failed sign-ins)"),
                       ("remove", "remove an account (one with records is locked for good instead)")):
        x = acc.add_parser(name, help=text)
        x.add_argument("username")
    p.set_defaults(func=cmd_accounts)


def cmd_portal(args: argparse.Namespace) -> int:
    from portal.server import serve

    settings = settings_for(args)
    try:
        serve(settings, args.host or settings.portal_host, args.port or settings.portal_port)
    except KeyboardInterrupt:
        pass
    return EXIT_OK


def read_password(stream=None) -> str:
    """The password: typed twice at a terminal, else the first line of standard input."""
    stream = stream or sys.stdin
    if stream.isatty():
        first = getpass.getpass("password: ")
        if first != getpass.getpass("again: "):
            raise ValueError("the two passwords differ")
        return first
    return stream.readline().rstrip("\r\n")


def cmd_accounts(args: argparse.Namespace) -> int:
    import portal

    settings = settings_for(args)
    portal.setup_django(settings)
    portal.migrate()
    from portal import accounts  # its models need Django configured
    try:
        if args.action == "add":
            password = read_password()
            if not password:
                raise accounts.AccountError("no password on standard input (e.g. printf '%s\\n' \"$PW\" | etdz "
                                            "accounts add …)")
            acc = accounts.add_account(args.username, args.role, password, zone_code=args.zone,
                                       province=args.province)
            where = f" zone {acc.zone_code}" if acc.zone_code else (f" province {acc.province}" if acc.province else "")
            print(f"account {args.username} added: role {acc.role}{where}")
        elif args.action == "token":
            token = accounts.new_token(args.username)
            print(f"API token of {args.username} (shown once; send it as 'Authorization: Bearer <token>'):")
            print(token)
        elif args.action == "lock":
            accounts.lock(args.username)
            print(f"account {args.username} locked")
        elif args.action == "unlock":
            accounts.unlock(args.username)
            print(f"account {args.username} unlocked")
        elif args.action == "remove":
            accounts.remove(args.username)
            print(f"account {args.username} removed")
    except (accounts.AccountError, ValueError) as exc:
        print(f"etdz accounts {args.action}: {exc}", file=sys.stderr)
        return EXIT_CANNOT_START
    return EXIT_OK
