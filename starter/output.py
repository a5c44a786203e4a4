"""Writing the `cme` command's answers: a reader that stops early (``cme show … | head -1``)
ends the output quietly, never with a traceback."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterable
from typing import Any


def emit(lines: str | Iterable[str]) -> None:
    """Print ``lines`` (one string, or several) on stdout, flushed."""
    text = lines if isinstance(lines, str) else "\n".join(lines)
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        # Nobody reads any more: send the rest (and the exit's flush) nowhere.
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())


def emit_json(value: Any) -> None:
    emit(json.dumps(value, indent=2, ensure_ascii=False))
