"""The SQLite register runs with ``synchronous`` NORMAL (WAL; activities.register._sqlite_pragmas),
which spares an fsync on every commit: a worker killed with ``kill -9`` in the middle of syncing
cases loses none it had committed. A process syncs invented cases into a register file one after
another, printing each case reference once its sync has returned; it is killed mid-run, and every
case it printed is in the register, with its stage."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlmodel import Session

from activities import register
from activities.register import create_register_schema, make_engine

ROOT = Path(__file__).resolve().parents[2]

# The writer: the register's own sync (write_record of a case's register record), as the
# worker's sync_register activity runs it, one case at a time, each acknowledged on stdout.
WRITER = """
import sys
from sqlmodel import Session
from activities import register
from activities.register import make_engine
from domain.case.register_record import register_record
from tests.activities.cases import investigating_state

engine = make_engine(sys.argv[1])
base = investigating_state()
n = 0
while True:
    n += 1
    case = f"CME-{n:012X}"
    state = base.model_copy(update={"case": case})
    with Session(engine) as session:
        register.write_record(session=session, record=register_record(state))
    print(case, flush=True)
"""


def test_a_worker_killed_mid_sync_loses_no_case_it_committed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/register.db"
    engine = make_engine(url)
    create_register_schema(engine)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"

    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, url],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    acknowledged: list[str] = []
    assert writer.stdout is not None
    try:
        deadline = time.monotonic() + 60
        # Killed while it is writing: after some dozens of cases, mid-stream.
        while len(acknowledged) < 40 and time.monotonic() < deadline:
            ready, _, _ = select.select([writer.stdout], [], [], 1.0)
            if ready:
                line = writer.stdout.readline()
                if not line:
                    break
                acknowledged.append(line.strip())
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=10)
        # Whatever it printed before it died was acknowledged too.
        acknowledged += [line.strip() for line in writer.stdout.read().splitlines()]
    finally:
        if writer.poll() is None:
            writer.kill()
    assert writer.returncode == -signal.SIGKILL
    assert len(acknowledged) >= 40, writer.stderr.read() if writer.stderr else ""

    engine.dispose()
    reopened = make_engine(url)
    with Session(reopened) as session:
        rows = {ref: register.get_case(session=session, case=ref) for ref in acknowledged}
    reopened.dispose()
    lost = [ref for ref, row in rows.items() if row is None]
    assert lost == []
    assert {row.stage for row in rows.values() if row is not None} == {"la_investigation"}
