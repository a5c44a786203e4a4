"""The scale-out stack (docker-compose.yml, Dockerfile) is checked here without a Docker engine:
the services the worker needs, their order, the settings the worker receives, the secrets, the
case search attributes, the register's schema step, the retention schedule step, the codec server
the Web UI decodes through and the worker image's command."""

from __future__ import annotations

import base64
import json
import re
import shlex
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.engine import make_url

from activities.register import HEAD
from settings import Settings
from starter.cli import build_parser
from workflows.search_attributes import CLI_TYPES

REPO = Path(__file__).parents[1]
COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"

SECRETS = {
    "TEMPORAL_DB_PASSWORD",
    "CME_DB_PASSWORD",
    "CME_CASE_KEY_SECRET",
    "CME_ENCRYPTION_KEYS",
    "CME_CODEC_SERVER_TOKEN",
    "CME_WEB_SESSION_SECRET",
}
# Required with no default, like the secrets, but not secret itself.
REQUIRED = {"CME_ENCRYPTION_KEY_ID"}
SECRETS_SET = {name: f"value-of-{name.lower()}" for name in SECRETS | REQUIRED}
WORKER_NEEDS = {
    "CME_TEMPORAL_ADDRESS",
    "CME_DATABASE_URL",
    "CME_SMTP_HOST",
    "CME_CASE_KEY_SECRET",
    "CME_ENCRYPTION_KEYS",
    "CME_ENCRYPTION_KEY_ID",
}
# Variables holding a secret, by name.
# (TEMPORAL_CODEC_PASS_ACCESS_TOKEN is the UI's switch, not a token.)
SECRET_NAME = re.compile(r"PASSWORD|SECRET|PWD|(?<!PASS_ACCESS_)TOKEN|ENCRYPTION_KEYS")

_VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?])?(?P<arg>[^}]*)\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}``, ``${VAR:?error}`` and ``$$``, as `docker compose`
    would resolve them with ``env``; a missing required variable raises ``KeyError``."""

    def one(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        value = env.get(name)
        if op in (":?", "?") and not value:
            raise KeyError(f"{name}: {arg}")
        if op in (":-", "-") and not value:
            return arg
        return value or ""

    parts = text.split("$$")
    return "$".join(_VARIABLE.sub(one, part) for part in parts)


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def command_text(service: dict[str, Any]) -> str:
    parts: list[str] = []
    for key in ("entrypoint", "command"):
        value = service.get(key)
        if isinstance(value, list):
            parts += [str(v) for v in value]
        elif value:
            parts.append(str(value))
    return "\n".join(parts)


def search_attribute_setup(services: dict[str, dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    found = [
        (name, s)
        for name, s in services.items()
        if "temporal operator search-attribute create" in command_text(s)
    ]
    assert len(found) == 1, "one service registers the case search attributes"
    return found[0]


# -- services and their order ----------------------------------------------------------------------


def test_every_service_the_worker_needs_is_there(services: dict[str, dict[str, Any]]) -> None:
    assert {
        "postgres",
        "temporal",
        "temporal-ui",
        "mail",
        "worker",
        "register-schema",
        "codec-server",
        "web",
    } <= set(services)
    search_attribute_setup(services)
    assert services["postgres"]["image"].startswith("postgres:16")
    assert re.match(r"temporalio/(auto-setup|server):", services["temporal"]["image"])
    assert services["temporal-ui"]["image"].startswith("temporalio/ui:")
    assert environment(services["temporal-ui"])["TEMPORAL_ADDRESS"] == "temporal:7233"


def test_the_worker_starts_after_temporal_postgres_and_the_set_up_steps(
    services: dict[str, dict[str, Any]],
) -> None:
    setup_name, _ = search_attribute_setup(services)
    depends = services["worker"]["depends_on"]
    assert isinstance(depends, dict), "depends_on with conditions"
    conditions = {name: spec["condition"] for name, spec in depends.items()}
    assert conditions["temporal"] == "service_healthy"
    assert conditions["postgres"] == "service_healthy"
    assert conditions["register-schema"] == "service_completed_successfully"
    assert conditions[setup_name] == "service_completed_successfully"
    assert services["register-schema"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_every_wait_can_be_satisfied(services: dict[str, dict[str, Any]]) -> None:
    """service_healthy needs a healthcheck; service_completed_successfully needs a one-shot."""
    for name, service in services.items():
        for dependency, spec in (service.get("depends_on") or {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            target = services[dependency]
            if spec["condition"] == "service_healthy":
                assert target.get("healthcheck", {}).get("test"), f"{dependency}: no healthcheck"
            if spec["condition"] == "service_completed_successfully":
                assert target.get("restart", "no") == "no", f"{dependency} is not a one-shot"


def test_the_healthchecks_ask_the_right_questions(services: dict[str, dict[str, Any]]) -> None:
    postgres = " ".join(services["postgres"]["healthcheck"]["test"])
    assert "pg_isready" in postgres
    temporal = " ".join(services["temporal"]["healthcheck"]["test"])
    assert "temporal operator cluster health" in temporal or "tctl" in temporal


def test_the_worker_can_be_scaled_out(services: dict[str, dict[str, Any]]) -> None:
    worker = services["worker"]
    assert isinstance(worker["deploy"]["replicas"], int) and worker["deploy"]["replicas"] >= 1
    # Both would make `--scale worker=3` fail: one name, one host port.
    assert "container_name" not in worker
    assert "ports" not in worker
    assert worker["build"] in (".", {"context": "."})


def test_temporal_runs_on_postgres(services: dict[str, dict[str, Any]]) -> None:
    env = environment(services["temporal"])
    assert env["DB"] == "postgres12"
    assert env["POSTGRES_SEEDS"] == "postgres"
    assert env["DB_PORT"] == "5432"
    assert env["POSTGRES_USER"] == environment(services["postgres"])["POSTGRES_USER"]
    # The same password on both sides, and one that must be given.
    assert env["POSTGRES_PWD"].startswith("${TEMPORAL_DB_PASSWORD:?")
    assert environment(services["postgres"])["POSTGRES_PASSWORD"].startswith(
        "${TEMPORAL_DB_PASSWORD:?"
    )


# -- the worker's settings -------------------------------------------------------------------------


def test_every_cme_variable_the_worker_gets_is_a_setting(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in ("worker", "register-schema", "codec-server", "retention-schedule", "web"):
        env = environment(services[name])
        cme = [key for key in env if key.startswith("CME_")]
        unknown = [
            key for key in cme if key.removeprefix("CME_").lower() not in Settings.model_fields
        ]
        assert not unknown, f"{name}: not settings: {unknown}"
        assert set(env) == set(cme), f"{name}: non-CME variables {set(env) - set(cme)}"
    assert set(environment(services["worker"])) >= WORKER_NEEDS


def test_the_worker_settings_resolve_to_the_stack(services: dict[str, dict[str, Any]]) -> None:
    kek = base64.b64encode(b"k" * 32).decode()
    secrets = {
        "CME_DB_PASSWORD": "db-pw-1",
        "CME_CASE_KEY_SECRET": "la-secret",
        "CME_ENCRYPTION_KEYS": json.dumps({"2026-01": kek}),
        "CME_ENCRYPTION_KEY_ID": "2026-01",
    }
    env = {k: interpolate(v, secrets) for k, v in environment(services["worker"]).items()}
    settings = Settings.model_validate({k.removeprefix("CME_").lower(): v for k, v in env.items()})

    assert settings.temporal_address == "temporal:7233"
    assert settings.temporal_client_options()["tls"] is False  # the stack's own, plain server
    url = make_url(settings.register_url)
    assert (url.drivername, url.username, url.password) == ("postgresql+psycopg", "cme", "db-pw-1")
    assert (url.host, url.port, url.database) == ("postgres", 5432, "cme")
    assert settings.smtp_host == "mail" and settings.smtp_port == 1025  # the mail catcher's SMTP
    # plain SMTP to the test mail catcher only: the LA's relay without TLS stops the workers
    assert (settings.smtp_tls, settings.smtp_plain_refusal()) == ("none", None)
    relay = {**secrets, "CME_SMTP_HOST": "relay.la.example.org", "CME_SMTP_PORT": "587"}
    live = {k: interpolate(v, relay) for k, v in environment(services["worker"]).items()}
    as_settings = {k.removeprefix("CME_").lower(): v for k, v in live.items()}
    refusal = Settings.model_validate(as_settings).smtp_plain_refusal()
    assert refusal is not None and refusal.startswith("CME_SMTP_TLS_MODE is none")
    with_tls = Settings.model_validate({**as_settings, "smtp_tls_mode": "starttls"})
    assert (with_tls.smtp_tls, with_tls.smtp_plain_refusal()) == ("starttls", None)
    assert settings.case_key_secret.get_secret_value() == "la-secret"
    assert (settings.key_ring.ids, settings.key_ring.active) == (["2026-01"], "2026-01")
    assert not settings.uses_dev_kek
    assert "{laestab}" in settings.school_email_pattern
    # The register-schema step writes where the workers read.
    schema_env = environment(services["register-schema"])
    assert interpolate(schema_env["CME_DATABASE_URL"], secrets) == settings.register_url


def test_the_register_database_is_created_for_the_worker(
    services: dict[str, dict[str, Any]],
) -> None:
    """The role and database in CME_DATABASE_URL are the ones postgres' init script creates."""
    url = make_url(interpolate(environment(services["worker"])["CME_DATABASE_URL"], SECRETS_SET))
    mounts = [str(v) for v in services["postgres"]["volumes"]]
    [initdb] = [m.split(":")[0] for m in mounts if "/docker-entrypoint-initdb.d" in m]
    scripts = "\n".join(p.read_text() for p in sorted((REPO / initdb).iterdir()))
    assert f"CREATE ROLE {url.username} LOGIN PASSWORD :'cme_password'" in scripts
    assert f"CREATE DATABASE {url.database} OWNER {url.username}" in scripts
    assert environment(services["postgres"])["CME_DB_PASSWORD"].startswith("${CME_DB_PASSWORD:?")


def test_required_secrets_must_be_given() -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    uses = list(_VARIABLE.finditer(text))
    for name in SECRETS | REQUIRED:
        mine = [m for m in uses if m["name"] == name]
        assert mine, f"{name} is not used"
        for m in mine:
            assert m["op"] == ":?" and m["arg"].strip(), f"{m[0]}: must be ${{{name}:?message}}"
    # No other password or secret falls back to a default or to nothing.
    for m in uses:
        if SECRET_NAME.search(m["name"]):
            assert m["name"] in SECRETS and m["op"] == ":?", f"{m[0]} has a fallback"
    # And no literal one: every password-like value is a required variable.
    for service in yaml.safe_load(text)["services"].values():
        for key, value in environment(service).items():
            if SECRET_NAME.search(key):
                assert _VARIABLE.fullmatch(value), f"{key} is not a ${{VAR:?…}}: {value}"
    # Resolving without them fails, as `docker compose` would.
    worker_env = environment(yaml.safe_load(text)["services"]["worker"])
    for name in ("CME_CASE_KEY_SECRET", "CME_ENCRYPTION_KEYS", "CME_ENCRYPTION_KEY_ID"):
        with pytest.raises(KeyError, match=name):
            interpolate(worker_env[name], {})


def test_bind_mounted_files_exist(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for volume in service.get("volumes") or []:
            source = str(volume).split(":")[0]
            if source.startswith("."):
                assert (REPO / source).exists(), f"{name}: {source} is missing"
    dynamic = environment(services["temporal"])["DYNAMIC_CONFIG_FILE_PATH"]
    file = REPO / "deploy/temporal/dynamicconfig" / Path(dynamic).name
    assert yaml.safe_load(file.read_text()), f"{file} is empty"


# -- the codec server ------------------------------------------------------------------------------


def _published(service: dict[str, Any]) -> list[tuple[str, int, int]]:
    """Its published ports as (host address, host port, container port)."""
    found = []
    for entry in service.get("ports") or []:
        address, host_port, container_port = str(entry).split(":")
        found.append((address, int(host_port), int(container_port)))
    return found


def test_the_codec_server_serves_the_ui_with_the_registers_keys(
    services: dict[str, dict[str, Any]],
) -> None:
    codec = services["codec-server"]
    assert codec["image"] == services["worker"]["image"]
    assert codec["build"] in (".", {"context": "."})
    depends = {name: spec["condition"] for name, spec in codec["depends_on"].items()}
    assert depends == {
        "postgres": "service_healthy",
        "register-schema": "service_completed_successfully",
    }
    # `cme codec-server`, with arguments the command accepts.
    command = [interpolate(str(part), {}) for part in codec["command"]]
    assert command[:2] == ["cme", "codec-server"]
    args = build_parser().parse_args(command[1:])
    assert args.host == "0.0.0.0"  # inside its container
    # Published on the host's loopback only, at the port it listens on.
    [(address, host_port, container_port)] = _published(codec)
    assert address == "127.0.0.1" and container_port == args.port
    # Its settings are the worker's (the same register, so the same keys), plus its token.
    secrets = {
        "CME_DB_PASSWORD": "db-pw-1",
        "CME_CASE_KEY_SECRET": "la-secret",
        "CME_ENCRYPTION_KEYS": json.dumps({"2026-01": base64.b64encode(b"k" * 32).decode()}),
        "CME_ENCRYPTION_KEY_ID": "2026-01",
    }
    token = "t" * 48
    env = {
        k: interpolate(v, {**secrets, "CME_CODEC_SERVER_TOKEN": token})
        for k, v in environment(codec).items()
    }
    settings = Settings.model_validate({k.removeprefix("CME_").lower(): v for k, v in env.items()})
    worker_env = {k: interpolate(v, secrets) for k, v in environment(services["worker"]).items()}
    assert {k: v for k, v in env.items() if k != "CME_CODEC_SERVER_TOKEN"} == worker_env
    assert settings.codec_server_token is not None
    assert settings.codec_server_token.get_secret_value() == token
    # Its token is required: no default, no literal.
    assert environment(codec)["CME_CODEC_SERVER_TOKEN"].startswith("${CME_CODEC_SERVER_TOKEN:?")
    with pytest.raises(KeyError, match="CME_CODEC_SERVER_TOKEN"):
        interpolate(environment(codec)["CME_CODEC_SERVER_TOKEN"], secrets)

    # The UI calls it where the browser finds it, with the browser's credentials (the session
    # cookie), and admits the UI's origin as the browser sees it.
    ui = services["temporal-ui"]
    ui_env = {k: interpolate(v, {}) for k, v in environment(ui).items()}
    assert ui_env["TEMPORAL_CODEC_ENDPOINT"] == f"http://localhost:{host_port}"
    assert ui_env["TEMPORAL_CODEC_INCLUDE_CREDENTIALS"] == "true"
    assert ui_env["TEMPORAL_CODEC_PASS_ACCESS_TOKEN"] == "false"
    [(_, ui_port, _)] = _published(ui)
    assert args.ui_origin == [f"http://localhost:{ui_port}"]


# -- the web app -----------------------------------------------------------------------------------


def test_the_web_app_serves_on_the_workers_settings_with_its_secret(
    services: dict[str, dict[str, Any]],
) -> None:
    web = services["web"]
    assert web["image"] == services["worker"]["image"] and web["build"] in (".", {"context": "."})
    depends = {name: spec["condition"] for name, spec in web["depends_on"].items()}
    assert depends == {
        "postgres": "service_healthy",
        "temporal": "service_healthy",
        "register-schema": "service_completed_successfully",
    }
    # `cme web`, with arguments the command accepts, published on the host's loopback only.
    command = [interpolate(str(part), {}) for part in web["command"]]
    assert command[:2] == ["cme", "web"]
    args = build_parser().parse_args(command[1:])
    assert args.host == "0.0.0.0"
    [(address, _host_port, container_port)] = _published(web)
    assert address == "127.0.0.1" and container_port == args.port
    # Its health check asks /healthz on that port.
    check = " ".join(web["healthcheck"]["test"])
    assert f"http://127.0.0.1:{args.port}/healthz" in check
    # The workers' settings (the same register and keys), its session secret (required), and
    # cookies that are Secure unless the deployment says otherwise.
    secrets = {
        "CME_DB_PASSWORD": "db-pw-1",
        "CME_CASE_KEY_SECRET": "la-secret",
        "CME_ENCRYPTION_KEYS": json.dumps({"2026-01": base64.b64encode(b"k" * 32).decode()}),
        "CME_ENCRYPTION_KEY_ID": "2026-01",
    }
    secret = "w" * 64
    env = {
        k: interpolate(v, {**secrets, "CME_WEB_SESSION_SECRET": secret})
        for k, v in environment(web).items()
    }
    worker_env = {k: interpolate(v, secrets) for k, v in environment(services["worker"]).items()}
    assert {k: v for k, v in env.items() if k in worker_env} == worker_env
    settings = Settings.model_validate({k.removeprefix("CME_").lower(): v for k, v in env.items()})
    assert settings.web_session_secret is not None
    assert settings.web_session_secret.get_secret_value() == secret
    assert settings.web_secure_cookies is True
    with pytest.raises(KeyError, match="CME_WEB_SESSION_SECRET"):
        interpolate(environment(web)["CME_WEB_SESSION_SECRET"], secrets)


def test_the_image_builds_the_govuk_assets_before_installing() -> None:
    runs = [args for op, args in _instructions() if op == "RUN"]
    frontend = next(i for i, args in enumerate(runs) if "scripts/_frontend.sh" in args)
    install = next(i for i, args in enumerate(runs) if re.search(r"pip install \.", args))
    assert frontend < install
    ignored = (REPO / ".dockerignore").read_text()
    assert "web/static/govuk/" in ignored and "web/frontend/node_modules/" in ignored


# -- the one-shot steps ----------------------------------------------------------------------------


def test_every_case_search_attribute_is_registered(services: dict[str, dict[str, Any]]) -> None:
    _, setup = search_attribute_setup(services)
    registered: dict[str, str] = {}
    for line in command_text(setup).splitlines():
        if "temporal operator search-attribute create" not in line:
            continue
        words = shlex.split(line)
        names = [words[i + 1] for i, w in enumerate(words) if w == "--name"]
        kinds = [words[i + 1] for i, w in enumerate(words) if w == "--type"]
        assert len(names) == len(kinds), line
        registered.update(zip(names, kinds, strict=True))
    assert {k: v.lower() for k, v in registered.items()} == {
        k: v.lower() for k, v in CLI_TYPES.items()
    }
    assert environment(setup)["TEMPORAL_ADDRESS"] == "temporal:7233"


def test_register_schema_upgrades_the_register(
    services: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    """Its command, `cme register upgrade`, run for real against SQLite, creates the register at
    the latest revision."""
    command = services["register-schema"]["command"]
    assert command == ["cme", "register", "upgrade"]
    database = tmp_path / "register.db"
    cme = Path(sys.executable).parent / "cme"  # the console script the image installs too
    subprocess.run(
        [str(cme), *command[1:]],
        cwd=tmp_path,
        env={"CME_DATABASE_URL": f"sqlite:///{database}", "PATH": "/usr/bin:/bin"},
        check=True,
        timeout=60,
    )
    with sqlite3.connect(database) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        [(revision,)] = db.execute("SELECT version_num FROM alembic_version").fetchall()
    assert {"cme_case", "notification", "problem"} <= tables
    assert revision == HEAD
    assert services["register-schema"]["image"] == services["worker"]["image"]


def test_retention_schedule_creates_the_schedule_once_the_namespace_is_there(
    services: dict[str, dict[str, Any]],
) -> None:
    """A one-shot of the worker image running `cme retention schedule` with the workers'
    settings (the retention period among them), after Temporal is up and the namespace set up
    (the search-attributes step waits for it)."""
    setup_name, _ = search_attribute_setup(services)
    step = services["retention-schedule"]
    assert step["command"] == ["cme", "retention", "schedule"]
    assert step.get("restart") == "no"
    assert step["image"] == services["worker"]["image"] and step["build"] == "."
    conditions = {name: spec["condition"] for name, spec in step["depends_on"].items()}
    assert conditions == {
        "temporal": "service_healthy",
        setup_name: "service_completed_successfully",
    }
    assert environment(step) == environment(services["worker"])
    assert environment(step)["CME_RETENTION_YEARS"] == "${CME_RETENTION_YEARS:-6}"
    secrets = {
        "CME_DB_PASSWORD": "pw",
        "CME_CASE_KEY_SECRET": "secret",
        "CME_ENCRYPTION_KEYS": json.dumps({"2026-01": base64.b64encode(b"k" * 32).decode()}),
        "CME_ENCRYPTION_KEY_ID": "2026-01",
    }
    resolved = {k: interpolate(v, secrets) for k, v in environment(step).items()}
    settings = Settings.model_validate(
        {k.removeprefix("CME_").lower(): v for k, v in resolved.items()}
    )
    assert settings.retention_years == 6
    # The command is the CLI's: it parses to the schedule's handler.
    from starter.cli import build_parser
    from starter.retention_cli import schedule_handler

    args = build_parser().parse_args(step["command"][1:])
    assert args.handler is schedule_handler


# -- the worker image ------------------------------------------------------------------------------


def _instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in lines
        if line and not line.startswith("#")
    ]


def test_the_worker_image_runs_worker_py_as_a_non_root_user() -> None:
    instructions = _instructions()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    [cmd] = [args for op, args in instructions if op == "CMD"]
    assert json.loads(cmd) == ["python", "worker.py"]
    assert (REPO / "worker.py").is_file()
    users = [args for op, args in instructions if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    installs = [args for op, args in instructions if op == "RUN" and "pip install" in args]
    assert any(re.search(r"pip install (\S+ )*\.(\s|$)", args) for args in installs)


def test_no_secrets_or_local_state_go_into_the_image() -> None:
    ignored = {
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".env", ".cme/", ".venv/", ".git/"} <= ignored
