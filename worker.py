"""The worker: registers the case workflow, the retention sweep and their activities on the task
queue and runs them.

``python worker.py`` (or :func:`main`) runs until SIGTERM or SIGINT, then shuts down cleanly:
the worker stops polling, lets running activities finish and returns. The register's schema is
not created here: that is the explicit step :func:`activities.register.create_register_schema`.

Every payload the worker writes to Temporal is encrypted with its case's data key, and every one
it reads decrypted (:mod:`security`): the keys are in the register (``case_key``), wrapped by the
settings' key-encryption keys (``CME_ENCRYPTION_KEYS``).

The workflow sandbox (:func:`workflow_runner`) runs each workflow in a fresh copy of its own
module, so that no case can leak state into another or call anything non-deterministic; the
project's pure, deterministic modules (the case's state machine in ``domain``, the models and
contracts the workflows share with the activities) are passed through, imported once per process
rather than once per case, and the workflow modules, executed afresh for every run, are compiled
once per process (:func:`share_workflow_code`). The capacity (cached workflows, slots) is the
settings' (``CME_MAX_CACHED_WORKFLOWS``, ``CME_MAX_CONCURRENT_WORKFLOW_TASKS``,
``CME_MAX_CONCURRENT_ACTIVITIES``; docs/deploy.md sizes them).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import gc
import importlib.abc
import importlib.machinery
import importlib.util
import logging
import signal
import sys
import threading
import types
from collections.abc import Sequence
from datetime import datetime
from types import CodeType
from typing import Any

import temporalio.converter
from pydantic import ValidationError
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.converter import SerializationContext
from temporalio.worker import Worker, WorkflowInstance, WorkflowInstanceDetails
from temporalio.worker._command_aware_visitor import CommandInfo
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

# Private to the SDK (temporalio 1.35): the instance the sandbox runner creates, subclassed by
# _LeanInstance. tests/workflows/test_sandbox.py fails if its shape changes.
from temporalio.worker.workflow_sandbox._runner import _Instance as _SandboxInstance

from activities.case_activities import CaseActivities
from activities.config import MailConfig
from activities.erasure import ErasureActivities
from activities.redaction import RedactingInterceptor
from activities.register import make_engine
from activities.v1.legacy import LegacyActivities
from security.converter import data_converter
from security.store import SqlKeyStore
from settings import Settings, settings_problems
from workflows.case import CmeCase
from workflows.retention import RetentionSweep
from workflows.v1.case import CmeCaseWorkflow

# Version 2 runs every new case; version 1 stays registered so that cases opened on it replay
# and continue as new into version 2 (workflows/v1/migrate.py). The retention sweep erases the
# expired cases (the daily schedule) and the cases erased on request (`cme erase`).
WORKFLOWS = [CmeCase, CmeCaseWorkflow, RetentionSweep]

log = logging.getLogger("cme.worker")

# Passed through the sandbox: imported once per process, shared by every case. Each is pure and
# deterministic (no clock, no randomness, no I/O when a workflow calls it; module-level state only
# constants): the case's state machine and its models (domain), the contracts and activity
# classes the workflows name (their methods run as activities, never in a workflow), version 1's
# models and rules, the search attribute keys, the case's update declarations (each only hands
# its request to the workflow's own methods: workflows.case_requests), the case class's
# decorator (its definition worked out once per process: workflows.definition), and the libraries
# domain.types validates with (email_validator imports idna when called). The workflow modules
# themselves (workflows.case,
# workflows.v1.case, workflows.retention) and version 1's workflow mixins are not: the sandbox
# loads them afresh for every run and refuses them anything non-deterministic
# (tests/workflows/test_sandbox.py).
PASSTHROUGH_MODULES = (
    "domain",
    "activities",
    "workflows.search_attributes",
    "workflows.case_requests",
    "workflows.definition",
    "workflows.v1.models",
    "workflows.v1.search_attributes",
    "workflows.v1.case_rules",
    "workflows.v1.deletion",
    "email_validator",
    "idna",
)


def workflow_runner() -> SandboxedWorkflowRunner:
    """The sandbox every workflow runs in: Temporal's default restrictions, with the project's
    deterministic modules passed through (:data:`PASSTHROUGH_MODULES`), entered at less cost
    (:class:`_LeanSandbox`)."""
    return _LeanSandbox(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH_MODULES)
    )


# The statements the sandbox runs to enter a workflow (create it, activate it), compiled once.
_STATEMENTS: dict[str, CodeType] = {}


class _LeanInstance(_SandboxInstance):
    """Temporal's sandboxed workflow instance, entered at less cost: the profile of a worker
    opening cases (issue 11) put about 17% of its CPU in asking the sandbox which serialization
    context a payload is encoded with, and 9% more in compiling the same few statements again.

    * Every activation, and every payload's serialization context, is a short statement the SDK
      compiles and executes inside the sandbox. Here each statement is compiled once per process
      and the code object executed as before (the same globals, the same restrictions).
    * The serialization context (which workflow or activity a payload belongs to, so the codec
      picks its case's key) is read from the SDK's own instance directly, not by entering the
      sandbox: it is SDK code that reads the run's info and pending commands, runs no workflow
      code and imports nothing, so the sandbox's import and builtins guards have nothing to
      guard there. Workflow code itself still runs only inside the sandbox
      (tests/workflows/test_sandbox.py)."""

    def _run_code(self, code: str, **extra_globals: Any) -> None:
        compiled = _STATEMENTS.get(code)
        if compiled is None:
            compiled = _STATEMENTS.setdefault(code, compile(code, "<string>", "exec"))
        super()._run_code(compiled, **extra_globals)  # type: ignore[arg-type]  # exec takes code

    def _in_sandbox(self) -> Any:
        return self.globals_and_locals["__temporal_in_sandbox"]

    def get_serialization_context(
        self, command_info: CommandInfo | None
    ) -> SerializationContext | None:
        return self._in_sandbox().get_serialization_context(command_info)  # type: ignore[no-any-return]

    def get_external_store_context(self, command_info: CommandInfo | None) -> Any:
        return self._in_sandbox().get_external_store_context(command_info)


@dataclasses.dataclass(frozen=True)
class _LeanSandbox(SandboxedWorkflowRunner):
    """:class:`SandboxedWorkflowRunner` whose instances are :class:`_LeanInstance`."""

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        return _LeanInstance(det, self.runner_class, self.restrictions)


# The project's workflow code: the modules the sandbox loads afresh for every run.
WORKFLOW_PACKAGE = "workflows"


# The workflow modules' code objects, by source path (one per module for the process's life).
_CODES: dict[str, CodeType] = {}
_CODES_LOCK = threading.Lock()


class _SharedCodeLoader(importlib.machinery.SourceFileLoader):
    """Loads a module as Python's own loader does, but compiles it (or reads its bytecode) only
    the first time: every later load executes the same code object. Code objects are immutable,
    so a fresh module still gets fresh globals, classes and functions; only their bytecode and
    constants are shared."""

    def get_code(self, fullname: str) -> CodeType:
        with _CODES_LOCK:
            code = _CODES.get(self.path)
            if code is None:
                code = super().get_code(fullname)
                assert code is not None
                _CODES[self.path] = code
            return code


class _SharedCodeFinder(importlib.abc.MetaPathFinder):
    """Finds the modules named ``prefixes`` (and their submodules) where Python's other finders
    would (the ordinary path; an editable install's finder, which is where ``cme`` and ``python
    -m`` from elsewhere find the ``workflows`` package), each with a :class:`_SharedCodeLoader`.

    Where each module's source is, is looked up once per process: the sandbox imports the
    workflow package and module afresh for every run, and asking the other finders again each
    time (the path's directories, the install's finder) cost about a millisecond of every new
    case (issue 11). ``importlib.invalidate_caches()`` forgets what was found."""

    def __init__(self, prefixes: tuple[str, ...]) -> None:
        self.prefixes = prefixes
        # (name, package path) -> the module's source file.
        self._found: dict[tuple[str, tuple[str, ...] | None], str] = {}

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if not any(fullname == p or fullname.startswith(p + ".") for p in self.prefixes):
            return None
        key = (fullname, None if path is None else tuple(path))
        origin = self._found.get(key)
        if origin is None:
            spec = self._find_elsewhere(fullname, path, target)
            if spec is None or type(spec.loader) is not importlib.machinery.SourceFileLoader:
                return spec  # not Python source (or not found): as Python finds it
            origin = self._found[key] = spec.loader.path
        return importlib.util.spec_from_file_location(
            fullname, origin, loader=_SharedCodeLoader(fullname, origin)
        )

    def _find_elsewhere(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None
    ) -> importlib.machinery.ModuleSpec | None:
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec: importlib.machinery.ModuleSpec | None = find(fullname, path, target)
            if spec is not None:
                return spec
        return None

    def invalidate_caches(self) -> None:
        self._found.clear()


def share_workflow_code(*prefixes: str) -> None:
    """Have the sandbox execute the same code objects for every run of the workflow modules
    (``prefixes``; by default the ``workflows`` package). The sandbox executes each workflow
    module afresh for every new run (a new case, a case back in the cache): without this, every
    run unmarshals (or, without bytecode on disk, compiles) the module again and keeps its own
    copy of every function's code, about 45 KiB for the case workflow. Each run still gets its
    own module, so nothing one case does reaches another (tests/workflows/test_sandbox.py)."""
    prefixes = prefixes or (WORKFLOW_PACKAGE,)
    for finder in sys.meta_path:
        if isinstance(finder, _SharedCodeFinder):
            finder.prefixes = tuple(dict.fromkeys((*finder.prefixes, *prefixes)))
            return
    sys.meta_path.insert(0, _SharedCodeFinder(prefixes))


def memoise_search_attribute_encoding() -> None:
    """Have the SDK encode each search attribute value once per process (issue 11).

    Every change of a case's stage, deadline or outcome upserts its search attributes, and the
    SDK encodes each value through the generic payload converter (isinstance checks, a JSON
    encoder made for the value), each call wrapped by the sandbox's guards: 2% of a worker's
    time opening cases, for a few hundred distinct values (kinds, stages, schools, deadlines).
    The encoding is a pure function of the key and the value, so here it is remembered: the
    SDK's own ``temporalio.converter.encode_typed_search_attribute_value``, which its workflow
    instance calls by that name, is replaced by one that asks it once for each key and value
    and hands out a fresh copy of the payload every time. A value that cannot be remembered (a
    keyword list) is encoded as before; a refused one raises as before.
    ``tests/activities/test_worker.py`` checks the payloads are the SDK's, byte for byte, and
    that the SDK still calls the function by that name."""
    encode = temporalio.converter.encode_typed_search_attribute_value
    if getattr(encode, "_cme_memoised", False):
        return

    @functools.lru_cache(maxsize=4096)
    def encoded(key: Any, value_type: Any, value: Any, offset: Any) -> bytes:
        return encode(key, value).SerializeToString(deterministic=True)

    @functools.wraps(encode)
    def memoised(key: Any, value: Any) -> Payload:
        # The type and the UTC offset too: True == 1, and the same instant in two time zones
        # are equal but encoded differently.
        offset = value.utcoffset() if isinstance(value, datetime) else None
        try:
            data = encoded(key, type(value).__qualname__, value, offset)
        except TypeError:  # unhashable (or refused: refused again, as the SDK refuses it)
            return encode(key, value)
        return Payload.FromString(data)

    memoised._cme_memoised = True  # type: ignore[attr-defined]
    temporalio.converter.encode_typed_search_attribute_value = memoised


# Python's cyclic garbage collector, for a worker: a first-generation collection after 10,000 new
# container objects rather than 700 (the older generations' thresholds as Python's).
GC_THRESHOLDS = (10_000, 10, 10)


def tune_gc() -> None:
    """Tune the garbage collector of a worker's process once it has imported what it runs
    (issue 11): ``python worker.py`` and ``cme dev`` do (``run_worker(..., tune=True)``); tests
    running the worker in their own process do not.

    Every case step allocates thousands of short-lived objects (payloads, protobuf messages,
    pydantic models, the state's working copy), so at Python's default threshold the collector
    ran a young collection every few hundred of them, each also walking whatever had survived
    since the last one: 7% of a worker's CPU opening cases went to collecting (1.4 s of 20;
    0.25 s so tuned), two and a half times the baseline's share. Fewer young collections cost
    a few megabytes of garbage at most, freed as before by reference counting or by the next
    collection. The objects the worker made to start (its modules, the SDK, the workflow
    definitions) are frozen out of the collections: they live as long as the process, and no
    collection need walk them again. Cycles (an evicted case's sandboxed module) are still
    collected by the older generations, whose thresholds are Python's."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


class WorkerRefused(RuntimeError):
    """The settings would have the worker do something it must not (e.g. send children's data
    over the network unencrypted): it does not start. The message is one line."""


async def run_worker(
    settings: Settings, *, stop: asyncio.Event | None = None, tune: bool = False
) -> None:
    """Run the worker until SIGTERM/SIGINT, or until ``stop`` is set. Raises
    :class:`WorkerRefused` at once when mail would go to another machine without TLS.
    ``tune``: the process is the worker's (``python worker.py``, ``cme dev``): its garbage
    collector is tuned for it once the worker is built (:func:`tune_gc`)."""
    refusal = settings.smtp_plain_refusal()
    if refusal is not None:
        raise WorkerRefused(refusal)
    if settings.uses_dev_kek:
        log.warning(
            "the DEV ONLY key-encryption key is configured: fine for `cme dev`, never for "
            "children's data (set CME_ENCRYPTION_KEYS and CME_ENCRYPTION_KEY_ID)"
        )
    share_workflow_code()
    memoise_search_attribute_encoding()
    engine = make_engine(settings.register_url)
    # One store for the codec and the erasures, so that a key shredded here is gone at once.
    store = SqlKeyStore(engine, settings.key_ring)
    try:
        client = await Client.connect(
            settings.temporal_address,
            **settings.temporal_client_options(),  # namespace, TLS / mutual TLS, API key
            data_converter=data_converter(store),
        )
    except BaseException:
        engine.dispose()
        raise
    mail = MailConfig.from_settings(settings)
    acts = CaseActivities(mail=mail, engine=engine, calendar_path=settings.calendar_file)
    legacy = LegacyActivities(mail=mail, engine=engine, calendar_path=settings.calendar_file)
    erasure = ErasureActivities(
        engine=engine,
        store=store,
        mail_folder=settings.mail_folder,
    )
    worker = Worker(
        client,
        task_queue=settings.task_queue,
        workflows=WORKFLOWS,
        activities=[*acts.all(), *legacy.all(), *erasure.all()],
        # A database error leaves an activity in words, never with the row it refused: the SDK
        # logs every failed attempt's exception in the clear.
        interceptors=[RedactingInterceptor()],
        workflow_runner=workflow_runner(),
        **settings.worker_options(),
    )

    if tune:
        tune_gc()

    shutdown = asyncio.Event()
    loop = asyncio.get_running_loop()
    handled: list[signal.Signals] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, shutdown.set)
            handled.append(sig)
        except (NotImplementedError, RuntimeError):  # not the main thread, or no signals here
            pass

    waits = [asyncio.create_task(shutdown.wait())]
    if stop is not None:
        waits.append(asyncio.create_task(stop.wait()))
    try:
        async with worker:
            log.info(
                "worker polling task queue %s on %s (namespace %s)",
                settings.task_queue,
                settings.temporal_address,
                settings.temporal_namespace,
            )
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            log.info("worker shutting down")
    finally:
        for task in waits:
            task.cancel()
        for task in waits:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for sig in handled:
            loop.remove_signal_handler(sig)
        engine.dispose()
    log.info("worker stopped")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = Settings()
    except ValidationError as exc:
        log.error("bad settings: %s", settings_problems(exc))
        sys.exit(2)
    try:
        asyncio.run(run_worker(settings, tune=True))
    except WorkerRefused as exc:
        log.error("the worker does not start: %s", exc)
        sys.exit(2)


if __name__ == "__main__":
    main()
