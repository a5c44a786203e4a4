"""Settings: values checked when read (emails, the school mailbox pattern, the LA's name), and the
register following the data directory unless its URL is set."""

from __future__ import annotations

import ast
import base64
import json
import os
from pathlib import Path

import pytest
from pydantic import ValidationError
from pydantic_settings import SettingsConfigDict
from temporalio.service import TLSConfig

from domain.calendar import DEFAULT_CALENDAR_PATH
from security.keys import KeyRing
from settings import DEV_KEK_ID, Settings
from starter.cli import main
from starter.dev import settings_for_run
from tests.keyring import random_kek
from tests.tls import make_pki


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No CME_* variable and no .env file from the machine running the tests."""
    for key in list(os.environ):
        if key.startswith("CME_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


def test_the_register_is_in_the_data_directory_by_default() -> None:
    assert Settings().database_url is None
    assert Settings().register_url == "sqlite:///.cme/register.db"


def test_cme_data_dir_moves_the_register(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CME_DATA_DIR", str(tmp_path / "cme-data"))
    settings = Settings()
    assert settings.data_dir == tmp_path / "cme-data"
    assert settings.register_url == f"sqlite:///{tmp_path / 'cme-data' / 'register.db'}"


def test_a_data_dir_in_the_home_directory_is_expanded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CME_DATA_DIR", "~/cme")
    assert Settings().register_url == f"sqlite:///{Path.home() / 'cme' / 'register.db'}"


def test_cme_database_url_wins_over_the_data_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = "postgresql+psycopg://cme:secret@db:5432/cme"
    monkeypatch.setenv("CME_DATA_DIR", str(tmp_path / "cme-data"))
    monkeypatch.setenv("CME_DATABASE_URL", url)
    assert Settings().register_url == url


def test_cme_dev_data_dir_moves_the_register_unless_its_url_is_set(tmp_path: Path) -> None:
    moved = settings_for_run(Settings(), data_dir=tmp_path / "dev")
    assert moved.register_url == f"sqlite:///{tmp_path / 'dev' / 'register.db'}"
    url = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    kept = settings_for_run(Settings(database_url=url), data_dir=tmp_path / "dev")
    assert kept.register_url == url


def test_email_settings_are_checked_and_normalised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CME_SAT_EMAIL", " SAT@Portsmouth.GOV.UK ")
    settings = Settings()
    assert settings.sat_email == "SAT@portsmouth.gov.uk"
    assert settings.mail_from == "cme-service@localhost"  # a reserved name: fine for development
    for name in ("mash_email", "sat_email", "team_leader_email", "mail_from"):
        with pytest.raises(ValidationError) as exc:
            Settings.model_validate({name: "cme at exampleshire"})
        assert exc.value.errors()[0]["loc"] == (name,)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("mash,team@example.org", "email address must look like name@example.org: "),
        ("mash", "email address must look like name@example.org"),
    ],
)
def test_a_bad_email_setting_stops_the_command_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], value: str, message: str
) -> None:
    monkeypatch.setenv("CME_CALENDAR_FILE", str(DEFAULT_CALENDAR_PATH))
    monkeypatch.setenv("CME_MASH_EMAIL", value)
    code = main(["calendar", "is-school-day", "2025-11-03"])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err.startswith(f"cme: error: bad settings: CME_MASH_EMAIL: {message}")
    assert "Value error" not in err
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("attendance@schools.example.org", "the pattern must contain {laestab}"),
        ("{laestab}@{school}.example.org", "the pattern may contain only {laestab} in braces"),
        ("{laestab}@schools.example.org}", "the pattern may contain only {laestab} in braces"),
        (
            "attendance {laestab}@schools.example.org",
            "for school 8512000 it gives 'attendance 8512000@schools.example.org': email address "
            "must look like name@example.org: ",
        ),
    ],
)
def test_the_school_mailbox_pattern_must_give_an_address(pattern: str, message: str) -> None:
    with pytest.raises(ValidationError) as exc:
        Settings(school_email_pattern=pattern)
    assert exc.value.errors()[0]["msg"].removeprefix("Value error, ").startswith(message)


def test_a_good_school_mailbox_pattern() -> None:
    settings = Settings(school_email_pattern=" attendance.{laestab}@schools.portsmouth.sch.uk ")
    assert settings.school_email_pattern == "attendance.{laestab}@schools.portsmouth.sch.uk"


def test_la_name_is_one_line_of_text() -> None:
    assert Settings(la_name="  Isle of   Wight ").la_name == "Isle of Wight"
    for bad in ("", "Ports\nmouth", "Ports\x00mouth"):
        with pytest.raises(ValidationError):
            Settings(la_name=bad)


# -- the key-encryption keys -----------------------------------------------------------------------


def test_the_dev_only_kek_is_the_default_so_the_local_stack_needs_nothing() -> None:
    settings = Settings()
    assert settings.encryption_key_id == DEV_KEK_ID == "dev-only"
    assert settings.key_ring.ids == ["dev-only"] and settings.key_ring.active == "dev-only"
    assert settings.uses_dev_kek
    assert "Q01F" not in repr(settings)  # a SecretStr, like every secret


def test_keks_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    old, new = random_kek(), random_kek().rstrip("=").replace("+", "-").replace("/", "_")
    monkeypatch.setenv("CME_ENCRYPTION_KEYS", json.dumps({"2026-01": old, "2026-07": new}))
    monkeypatch.setenv("CME_ENCRYPTION_KEY_ID", "2026-07")
    settings = Settings()
    ring = settings.key_ring
    assert (ring.ids, ring.active) == (["2026-01", "2026-07"], "2026-07")
    assert not settings.uses_dev_kek
    assert old not in repr(settings) and new not in repr(settings)
    # Both forms of base64 (standard, URL-safe without padding) give the 32 bytes.
    wrapped = KeyRing({"2026-01": base64.b64decode(old)}, "2026-01").wrap(b"d" * 32)
    assert ring.unwrap(wrapped) == b"d" * 32


@pytest.mark.parametrize(
    ("keys", "key_id", "variable", "message"),
    [
        ("not json", None, "CME_ENCRYPTION_KEYS", "must be JSON like {"),
        ("[]", None, "CME_ENCRYPTION_KEYS", "with at least one key"),
        ("{}", None, "CME_ENCRYPTION_KEYS", "with at least one key"),
        ('{"a": "c2hvcnQ="}', "a", "CME_ENCRYPTION_KEYS", "key-encryption key 'a' must be 32"),
        ('{"a": 1}', "a", "CME_ENCRYPTION_KEYS", "key-encryption key 'a' must be base64 text"),
        ('{"a b": "KEY"}', "a b", "CME_ENCRYPTION_KEYS", "a key-encryption key's id is 1 to 100"),
        ('{"la-1": "KEY"}', None, "CME_ENCRYPTION_KEY_ID", "key 'dev-only' is not in CME_ENCR"),
        ('{"la-1": "KEY"}', "la-2", "CME_ENCRYPTION_KEY_ID", "'la-2' is not in CME_ENCRYPTION_K"),
    ],
)
def test_a_bad_kek_setting_stops_the_command_naming_the_variable_not_the_key(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    keys: str,
    key_id: str | None,
    variable: str,
    message: str,
) -> None:
    kek = random_kek()
    monkeypatch.setenv("CME_ENCRYPTION_KEYS", keys.replace("KEY", kek))
    if key_id is not None:
        monkeypatch.setenv("CME_ENCRYPTION_KEY_ID", key_id)
    monkeypatch.setenv("CME_CALENDAR_FILE", str(DEFAULT_CALENDAR_PATH))
    code = main(["calendar", "is-school-day", "2025-11-03"])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err.startswith(f"cme: error: bad settings: {variable}: "), err
    assert message in err
    assert kek not in err and kek[:8] not in err and "c2hvcnQ" not in err
    assert err.count("\n") == 1
    with pytest.raises(ValidationError) as raised:
        Settings()
    assert kek not in str(raised.value) and "c2hvcnQ" not in str(raised.value)


def test_the_codec_server_port_follows_the_ui_port_unless_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().codec_port == 8234
    monkeypatch.setenv("CME_UI_PORT", "9000")
    assert Settings().codec_port == 9001
    assert settings_for_run(Settings(), ui_port=9100).codec_port == 9101
    assert settings_for_run(Settings(), ui_port=9100, codec_port=9500).codec_port == 9500
    monkeypatch.setenv("CME_CODEC_SERVER_PORT", "8300")
    assert Settings().codec_port == 8300


def test_a_codec_server_token_is_long_and_fit_for_a_header(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert Settings().codec_server_token is None
    assert Settings(codec_server_token="  ").codec_server_token is None  # empty: unset
    token = "a" * 16 + "-_.~!" + "Z" * 11
    set_token = Settings(codec_server_token=token).codec_server_token
    assert set_token is not None and set_token.get_secret_value() == token
    assert token not in repr(Settings(codec_server_token=token))
    for bad in ("short", "a" * 31, "a" * 20 + " " + "a" * 20, "é" * 40):
        with pytest.raises(ValidationError):
            Settings(codec_server_token=bad)
    # The command says what is wrong, never the value.
    monkeypatch.setenv("CME_CODEC_SERVER_TOKEN", "my-short-secret")
    monkeypatch.setenv("CME_CALENDAR_FILE", str(DEFAULT_CALENDAR_PATH))
    code = main(["calendar", "is-school-day", "2025-11-03"])
    _out, err = capsys.readouterr()
    assert code == 2
    assert err.startswith(
        "cme: error: bad settings: CME_CODEC_SERVER_TOKEN: a token is at least 32"
    )
    assert "my-short-secret" not in err


def test_the_retention_period_is_6_years_unless_the_la_sets_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().retention_years == 6
    monkeypatch.setenv("CME_RETENTION_YEARS", "25")
    assert Settings().retention_years == 25


@pytest.mark.parametrize("value", ["0", "101", "-6"])
def test_a_retention_period_outside_1_to_100_years_stops_the_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    monkeypatch.setenv("CME_CALENDAR_FILE", str(DEFAULT_CALENDAR_PATH))
    monkeypatch.setenv("CME_RETENTION_YEARS", value)
    code = main(["calendar", "is-school-day", "2025-11-03"])
    _, err = capsys.readouterr()
    assert code == 2
    assert err == (
        "cme: error: bad settings: CME_RETENTION_YEARS: must be a whole number of years from 1 "
        f"to 100, not {value}\n"
    )


def test_the_mail_folder_follows_the_data_directory(tmp_path: Path) -> None:
    assert Settings().mail_folder == Path(".cme/mail")
    assert Settings(data_dir=tmp_path / "d").mail_folder == tmp_path / "d" / "mail"
    assert settings_for_run(Settings(), data_dir=tmp_path / "dev").mail_folder == (
        tmp_path / "dev" / "mail"
    )


# -- SMTP with TLS ---------------------------------------------------------------------------------


def test_the_smtp_tls_mode_and_the_older_start_tls_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().smtp_tls == "none"
    monkeypatch.setenv("CME_SMTP_START_TLS", "true")  # as before: STARTTLS
    assert Settings().smtp_tls == "starttls"
    monkeypatch.setenv("CME_SMTP_TLS_MODE", "starttls")
    assert Settings().smtp_tls == "starttls"
    monkeypatch.delenv("CME_SMTP_START_TLS")
    for mode in ("none", "starttls", "tls"):
        monkeypatch.setenv("CME_SMTP_TLS_MODE", mode)
        assert Settings().smtp_tls == mode
    monkeypatch.setenv("CME_SMTP_TLS_MODE", "")  # a compose file's unset value
    assert Settings().smtp_tls == "none"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"CME_SMTP_TLS_MODE": "ssl"},
            "cme: error: bad settings: CME_SMTP_TLS_MODE: Input should be 'none', 'starttls' or "
            "'tls'",
        ),
        (
            {"CME_SMTP_TLS_MODE": "tls", "CME_SMTP_START_TLS": "true"},
            "cme: error: bad settings: CME_SMTP_START_TLS: true means CME_SMTP_TLS_MODE=starttls, "
            "but CME_SMTP_TLS_MODE is tls: set CME_SMTP_TLS_MODE alone",
        ),
        (
            {"CME_SMTP_CA_FILE": "/nowhere/ca.pem"},
            "cme: error: bad settings: CME_SMTP_CA_FILE: no such file: /nowhere/ca.pem",
        ),
    ],
)
def test_a_bad_smtp_tls_setting_stops_the_command_in_one_line(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    message: str,
) -> None:
    monkeypatch.setenv("CME_CALENDAR_FILE", str(DEFAULT_CALENDAR_PATH))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert main(["calendar", "is-school-day", "2025-11-03"]) == 2
    assert capsys.readouterr().err == message + "\n"


def test_a_private_cas_certificate_is_read_when_the_settings_are(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pki = make_pki(tmp_path / "pki")
    monkeypatch.setenv("CME_SMTP_CA_FILE", str(pki.ca))
    ca = Settings().smtp_ca_file
    assert ca is not None and (ca.path, ca.data) == (pki.ca, pki.ca.read_bytes())
    pki.ca.write_text("not a certificate")
    with pytest.raises(ValidationError, match="not a PEM certificate file"):
        Settings()


@pytest.mark.parametrize(
    ("host", "mode", "allowed", "refused"),
    [
        ("localhost", "none", None, False),  # `cme dev`'s mail folder
        ("127.0.0.1", "none", None, False),
        ("127.1.2.3", "none", None, False),
        ("::1", "none", None, False),
        ("[::1]", "none", None, False),
        ("mail", "none", "mail", False),  # the compose stack's test mail catcher
        ("MAIL", "none", "mail", False),
        ("mail", "none", None, True),
        ("relay.portsmouth.example.org", "none", "mail", True),
        ("10.0.0.5", "none", None, True),
        ("relay.portsmouth.example.org", "starttls", None, False),
        ("relay.portsmouth.example.org", "tls", None, False),
    ],
)
def test_plain_smtp_only_to_this_machine_or_the_test_mail_catcher(
    host: str, mode: str, allowed: str | None, refused: bool
) -> None:
    settings = Settings(smtp_host=host, smtp_tls_mode=mode, smtp_allow_plain_to=allowed)
    refusal = settings.smtp_plain_refusal()
    assert (refusal is not None) is refused
    if refusal is not None:
        assert refusal.startswith(f"CME_SMTP_TLS_MODE is none: mail to {host} would cross ")
        assert "\n" not in refusal


def test_cme_dev_sends_to_its_mail_folder_in_plain(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CME_SMTP_TLS_MODE", "tls")
    assert settings_for_run(Settings()).smtp_tls == "none"


# -- Temporal: TLS, mutual TLS, an API key ---------------------------------------------------------


def test_plain_grpc_to_temporal_by_default() -> None:
    assert Settings().temporal_client_options() == {
        "namespace": "default",
        "tls": False,
        "api_key": None,
    }


def test_tls_to_temporal_from_the_files_read_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pki = make_pki(tmp_path / "pki")
    monkeypatch.setenv("CME_TEMPORAL_NAMESPACE", "portsmouth-cme.a1b2c")
    monkeypatch.setenv("CME_TEMPORAL_TLS_CA_FILE", str(pki.ca))
    monkeypatch.setenv("CME_TEMPORAL_TLS_CERT_FILE", str(pki.client_cert))
    monkeypatch.setenv("CME_TEMPORAL_TLS_KEY_FILE", str(pki.client_key))
    monkeypatch.setenv("CME_TEMPORAL_TLS_SERVER_NAME", "temporal.portsmouth.example.invalid")
    settings = Settings()
    expected = {name: path.read_bytes() for name, path in vars(pki).items()}
    for path in vars(pki).values():
        path.unlink()  # read with the settings, never again
    options = settings.temporal_client_options()
    tls = options["tls"]
    assert isinstance(tls, TLSConfig)
    assert (tls.server_root_ca_cert, tls.client_cert, tls.client_private_key) == (
        expected["ca"],
        expected["client_cert"],
        expected["client_key"],
    )
    assert tls.domain == "temporal.portsmouth.example.invalid"
    assert (options["namespace"], options["api_key"]) == ("portsmouth-cme.a1b2c", None)
    assert "-----BEGIN" not in repr(settings)  # no key material in a repr


def test_tls_on_alone_or_with_an_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CME_TEMPORAL_TLS", "true")
    assert Settings().temporal_client_options()["tls"] == TLSConfig()  # the system's CAs
    monkeypatch.delenv("CME_TEMPORAL_TLS")
    monkeypatch.setenv("CME_TEMPORAL_API_KEY", "  cloud-key-1  ")
    settings = Settings()
    options = settings.temporal_client_options()
    assert (options["tls"], options["api_key"]) == (TLSConfig(), "cloud-key-1")  # TLS with it
    assert "cloud-key-1" not in repr(settings)
    monkeypatch.setenv("CME_TEMPORAL_API_KEY", "")  # a compose file's unset value
    assert Settings().temporal_client_options()["tls"] is False


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"CME_TEMPORAL_TLS_CERT_FILE": "{client_cert}"},
            "CME_TEMPORAL_TLS_KEY_FILE: needed with CME_TEMPORAL_TLS_CERT_FILE (mutual TLS takes "
            "the client's certificate and its private key)",
        ),
        (
            {"CME_TEMPORAL_TLS_KEY_FILE": "{client_key}"},
            "CME_TEMPORAL_TLS_CERT_FILE: needed with CME_TEMPORAL_TLS_KEY_FILE (mutual TLS takes "
            "the client's certificate and its private key)",
        ),
        (
            {
                "CME_TEMPORAL_TLS_CERT_FILE": "{client_cert}",
                "CME_TEMPORAL_TLS_KEY_FILE": "{server_key}",
            },
            "CME_TEMPORAL_TLS_KEY_FILE: {server_key} is not the private key of the certificate "
            "in {client_cert}",
        ),
        (
            {"CME_TEMPORAL_TLS_CA_FILE": "{dir}/missing.pem"},
            "CME_TEMPORAL_TLS_CA_FILE: no such file: {dir}/missing.pem",
        ),
        (
            {"CME_TEMPORAL_TLS_CA_FILE": "{dir}"},
            "CME_TEMPORAL_TLS_CA_FILE: is a directory, not a certificate file: {dir}",
        ),
        (
            {"CME_TEMPORAL_TLS_CA_FILE": "{client_key}"},
            "CME_TEMPORAL_TLS_CA_FILE: not a usable PEM certificate file: {client_key} (",
        ),
        (
            {"CME_TEMPORAL_TLS_KEY_FILE": "{client_cert}", "CME_TEMPORAL_TLS_CERT_FILE": "{ca}"},
            "CME_TEMPORAL_TLS_KEY_FILE: not a usable PEM private key file: {client_cert} (",
        ),
        (
            {"CME_TEMPORAL_TLS": "false", "CME_TEMPORAL_API_KEY": "cloud-key-1"},
            "CME_TEMPORAL_TLS: false, but CME_TEMPORAL_API_KEY is set, which need TLS (unset it, "
            "or CME_TEMPORAL_TLS)",
        ),
    ],
)
def test_a_bad_temporal_tls_setting_stops_the_command_in_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    env: dict[str, str],
    message: str,
) -> None:
    pki = make_pki(tmp_path / "pki")
    names = {name: str(path) for name, path in vars(pki).items()} | {"dir": str(tmp_path)}
    monkeypatch.setenv("CME_CALENDAR_FILE", str(DEFAULT_CALENDAR_PATH))
    for key, value in env.items():
        monkeypatch.setenv(key, value.format(**names))
    assert main(["calendar", "is-school-day", "2025-11-03"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cme: error: bad settings: " + message.format(**names))
    assert err.count("\n") == 1
    assert "-----BEGIN" not in err  # nothing of a key or certificate


def test_cme_dev_talks_plain_grpc_to_its_own_dev_server(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pki = make_pki(tmp_path / "pki")
    monkeypatch.setenv("CME_TEMPORAL_TLS_CA_FILE", str(pki.ca))
    monkeypatch.setenv("CME_TEMPORAL_API_KEY", "cloud-key-1")
    options = settings_for_run(Settings()).temporal_client_options()
    assert (options["tls"], options["api_key"]) == (False, None)


def test_every_client_of_the_service_connects_with_the_settings_options() -> None:
    """Every ``Client.connect`` of the worker, the `cme` command and `cme dev` is given
    ``**settings.temporal_client_options()`` (namespace, TLS, API key): none is left plain."""
    repo = Path(__file__).parents[1]
    files = [
        repo / "worker.py",
        *(repo / "starter").glob("*.py"),
        *(repo / "security").glob("*.py"),
    ]
    files += [*(repo / "activities").rglob("*.py"), *(repo / "workflows").rglob("*.py")]
    calls = 0
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            func = node.func if isinstance(node, ast.Call) else None
            if not (
                isinstance(func, ast.Attribute)
                and func.attr == "connect"
                and isinstance(func.value, ast.Name)
                and func.value.id == "Client"
            ):
                continue
            assert isinstance(node, ast.Call)
            calls += 1
            spread = [k.value for k in node.keywords if k.arg is None]
            assert any(
                isinstance(v, ast.Call)
                and isinstance(v.func, ast.Attribute)
                and v.func.attr == "temporal_client_options"
                for v in spread
            ), f"{path.relative_to(repo)}:{node.lineno}: Client.connect without the options"
            assert not {"namespace", "tls", "api_key"} & {k.arg for k in node.keywords}
    assert calls >= 4  # worker.py, starter/connect.py, starter/dev.py (two)


def test_every_default_passes_its_own_checks() -> None:
    """The settings do not check their defaults again when read (a faster `cme` start-up): each
    default must be what its checks would make of it."""

    class CheckingDefaults(Settings):
        model_config = SettingsConfigDict(**{**Settings.model_config, "validate_default": True})

    assert CheckingDefaults().model_dump() == Settings().model_dump()
