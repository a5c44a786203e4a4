"""Settings: values checked when read (emails, the school mailbox pattern, the LA's name), and the
register following the data directory unless its URL is set."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from domain.calendar import DEFAULT_CALENDAR_PATH
from security.keys import KeyRing
from settings import DEV_KEK_ID, Settings
from starter.cli import main
from starter.dev import settings_for_run
from tests.keyring import random_kek


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
