"""The `cme` command starts lazily (issue 11, target 7): `cme --help` imports no command's module,
`cme calendar` neither the Temporal SDK nor the case model, and the lazy parser says exactly what
the full one says. The start-up time itself is measured by ``python -m benchmarks.cli_startup``."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from starter import cli
from tests.starter.conftest import free_port

REPO = Path(__file__).parents[2]


def _commands(parser: argparse.ArgumentParser) -> list[tuple[str, str | None]]:
    [subparsers] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return [(action.dest, action.help) for action in subparsers._choices_actions]


def test_the_table_names_every_command_with_its_modules_own_help() -> None:
    full = build_full()
    assert [(c.name, c.help) for c in cli.COMMANDS] == _commands(full)
    for command in cli.COMMANDS:  # each command is its module's
        parser = argparse.ArgumentParser(prog="cme")
        subparsers = parser.add_subparsers()
        __import__(command.module, fromlist=["register"]).register(subparsers)
        assert command.name in subparsers.choices, command


def build_full() -> argparse.ArgumentParser:
    return cli.build_parser()


@pytest.mark.parametrize("module", [*cli.COMMAND_MODULES, ""])
def test_the_lazy_parser_lists_and_helps_as_the_full_one(module: str) -> None:
    assert build_full().format_help() == cli.build_parser(only=module).format_help()


def _imported_after(*argv: str, **settings: str) -> set[str]:
    """The modules `cme ARGV` has imported when it ends (its own process, the shipped calendar,
    no CME_* settings but ``settings``)."""
    # Ends as the console script does, with no interpreter finalisation: that can crash once
    # the Temporal client's native runtime has started (starter.cli.run).
    script = (
        "import os, sys\n"
        "from starter.cli import main\n"
        "try:\n"
        "    main(sys.argv[1:])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('\\n'.join(sorted(sys.modules)), file=sys.stderr, flush=True)\n"
        "os._exit(0)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, *argv],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), **settings},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return set(done.stderr.split())


def test_help_imports_no_command() -> None:
    modules = _imported_after("--help")
    assert not modules & set(cli.COMMAND_MODULES)
    assert "settings" not in modules
    assert not any(name.startswith(("temporalio", "pydantic")) for name in modules)


def test_the_calendar_talks_to_no_case_and_imports_no_temporal() -> None:
    modules = _imported_after("calendar", "nth", "2026-02-09", "10", "--school", "8512000")
    assert "starter.calendar_cli" in modules
    assert not modules & (set(cli.COMMAND_MODULES) - {"starter.calendar_cli"})
    assert not any(name.startswith(("temporalio", "sqlalchemy", "workflows")) for name in modules)
    assert "domain.case.model" not in modules


def test_a_command_that_talks_to_temporal_imports_its_module_only() -> None:
    modules = _imported_after("show", "not-a-case")  # refused by its argument type, exit 2
    assert "starter.inspect" in modules
    assert "starter.tasks" not in modules and "starter.dev" not in modules


def test_the_case_listing_imports_neither_the_workflow_nor_the_keys_nor_the_register() -> None:
    # `cme cases` reads search attributes only (never encrypted, never personal data): no
    # case workflow, no encryption, no key store on the register (issue 11: its start-up).
    # It runs to the end: connects (to no server: one line, exit 1), so that what it would
    # import to connect is imported too.
    nobody = f"127.0.0.1:{free_port()}"
    modules = _imported_after("cases", "--overdue", CME_TEMPORAL_ADDRESS=nobody)
    assert "temporalio.client" in modules
    assert "starter.case_list_cli" in modules
    assert not modules & (set(cli.COMMAND_MODULES) - {"starter.case_list_cli"})
    for heavy in ("workflows.case", "cryptography", "sqlalchemy", "security.codec"):
        assert not any(name == heavy or name.startswith(heavy + ".") for name in modules), heavy
    # Nor the case's models and machine: the kinds and stages it names are plain enumerations
    # (domain.case.kinds), its words starter.case_words.
    for heavy in ("domain.case.model", "domain.case.machine", "domain.case.state", "starter.words"):
        assert heavy not in modules, heavy


def test_the_case_listing_knows_the_case_workflows_by_their_own_names() -> None:
    from starter.visibility import CASE_WORKFLOW_TYPES
    from workflows.case import WORKFLOW_TYPE

    assert CASE_WORKFLOW_TYPES == ("CmeCase", WORKFLOW_TYPE)
