"""`cme keys`: the cases' data keys in the register, and the key-encryption keys that wrap them.

cme keys status          # how many data keys each key-encryption key (KEK) wraps; erased cases
cme keys rotate          # re-wrap every data key with the active KEK (CME_ENCRYPTION_KEY_ID)

Rotating the KEK: add the new one to ``CME_ENCRYPTION_KEYS`` beside the old, make it the active
one (``CME_ENCRYPTION_KEY_ID``) everywhere (workers, codec server, the `cme` command), then
``cme keys rotate``; once ``cme keys status`` shows no key under the old KEK, remove it. Neither
command prints a key: only KEK ids and counts.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from sqlalchemy.engine import make_url

from activities.register import make_engine
from security.keys import KeyRingError
from security.store import KeyStatus, KeyStoreUnavailable, SqlKeyStore
from settings import Settings
from starter.errors import CliError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "keys", help="the cases' data keys: counts by key-encryption key, rotation"
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    def add(name: str, help: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = actions.add_parser(name, help=help, description=help)
        p.add_argument("--json", action="store_true", help="machine-readable output")
        p.set_defaults(handler=handle)
        return p

    add("status", "how many data keys each key-encryption key wraps, and how many were erased")
    add(
        "rotate",
        "re-wrap every data key with the active key-encryption key (CME_ENCRYPTION_KEY_ID)",
    )


def _shown(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "the configured register"


async def handle(args: argparse.Namespace, settings: Settings) -> int:
    url = settings.register_url
    ring = settings.key_ring
    engine = make_engine(url)
    store = SqlKeyStore(engine, ring)
    try:
        rewrapped = await store.rewrap() if args.action == "rotate" else None
        status = await store.status()
    except KeyStoreUnavailable as exc:
        raise CliError(f"{exc} (at {_shown(url)}; is it at the latest revision?)") from None
    except KeyRingError as exc:
        raise CliError(f"cannot re-wrap every data key: {exc}") from None
    finally:
        engine.dispose()
    unconfigured = sorted(set(status.by_kek) - set(ring.ids))
    if args.json:
        answer: dict[str, Any] = {
            "active": ring.active,
            "by_kek": status.by_kek,
            "shredded": status.shredded,
            "unconfigured": unconfigured,
        }
        if rewrapped is not None:
            answer["rewrapped"] = rewrapped
        print(json.dumps(answer))
        return 0
    if rewrapped is not None:
        print(
            f"re-wrapped {rewrapped} data key{'s' if rewrapped != 1 else ''} with key-encryption "
            f"key {ring.active!r} in the case register at {_shown(url)}"
        )
    _print_status(status, ring.active, unconfigured, url)
    return 0


def _print_status(status: KeyStatus, active: str, unconfigured: list[str], url: str) -> None:
    print(f"data keys in the case register at {_shown(url)}:")
    if not status.by_kek:
        print("  none wrapped yet")
    for kek_id, count in status.by_kek.items():
        notes = []
        if kek_id == active:
            notes.append("the active key-encryption key")
        if kek_id in unconfigured:
            notes.append("NOT CONFIGURED: these cases cannot be read; add it back")
        note = f"  ({'; '.join(notes)})" if notes else ""
        print(f"  {count:>7}  wrapped with {kek_id!r}{note}")
    print(f"  {status.shredded:>7}  erased (shredded: no key left)")
    stale = status.live - status.by_kek.get(active, 0)
    if stale:
        print(f"{stale} not wrapped with the active key yet: run `cme keys rotate`")
