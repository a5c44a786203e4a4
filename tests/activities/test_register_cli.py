"""`cme register`: upgrade the register's schema and say which revision it is at, in one line
when it cannot."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from activities.register import HEAD
from settings import Settings
from starter import register_cli
from starter.errors import CliError


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="cme")
    register_cli.register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["register", *argv])


async def test_cme_register_upgrade_and_current(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'cli' / 'register.db'}"
    settings = Settings(database_url=url)

    args = parse("current")
    assert await args.handler(args, settings) == 0
    assert (
        "is at revision none (not created yet: run cme register upgrade)" in capsys.readouterr().out
    )

    args = parse("upgrade", "--revision", "0001")
    assert await args.handler(args, settings) == 0
    assert "upgraded from empty to 0001" in capsys.readouterr().out

    args = parse("upgrade")
    assert await args.handler(args, settings) == 0
    assert f"upgraded from 0001 to {HEAD}" in capsys.readouterr().out

    args = parse("upgrade", "--json")
    assert await args.handler(args, settings) == 0
    assert json.loads(capsys.readouterr().out) == {"before": HEAD, "revision": HEAD}

    args = parse("current")
    assert await args.handler(args, settings) == 0
    assert f"is at revision {HEAD} (the latest)" in capsys.readouterr().out


async def test_cme_register_says_what_went_wrong_in_one_line(tmp_path: Path) -> None:
    args = parse("upgrade", "--revision", "9999")
    with pytest.raises(CliError) as raised:
        await args.handler(args, Settings(database_url=f"sqlite:///{tmp_path / 'r.db'}"))
    assert "9999" in raised.value.message and raised.value.exit_code == 2

    args = parse("upgrade", "--url", "postgresql://cme:secret@127.0.0.1:1/cme")
    with pytest.raises(CliError) as raised:
        await args.handler(args, Settings())
    message = raised.value.message
    assert message.startswith("cannot upgrade the case register at postgresql://cme:***@")
    assert "secret" not in message and "\n" not in message


def test_cme_has_the_register_command() -> None:
    from starter.cli import COMMAND_MODULES

    assert "starter.register_cli" in COMMAND_MODULES
