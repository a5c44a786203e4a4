"""The one Settings class: every knob of the worker, the starter and the local stack.

Values come from environment variables prefixed ``CME_`` (e.g. ``CME_TEMPORAL_ADDRESS``) or from a
``.env`` file in the working directory. Nothing else in the code base reads ``os.environ``.

Values are checked with the types of :mod:`domain.types` when the settings are read: a bad email
address or school mailbox pattern stops the worker and the ``cme`` command at once, naming the
variable, rather than failing the first email of a case.

The case register is at :attr:`Settings.register_url`: ``CME_DATABASE_URL`` when set, else the
SQLite file ``register.db`` in the data directory (``CME_DATA_DIR``, ``.cme`` by default).

Every payload in Temporal is encrypted with its case's data key, kept in the register wrapped by
a key-encryption key (KEK) of :attr:`Settings.key_ring`: ``CME_ENCRYPTION_KEYS`` (JSON, each KEK
by its id: ``{"2026-01": "<base64 of 32 random bytes>"}``) and ``CME_ENCRYPTION_KEY_ID`` (the one
that wraps new keys). Errors about them name the variable and the KEK's id, never a key. The local
stack's mail folder is :attr:`Settings.mail_folder`, ``mail`` in the same directory.
"""

from __future__ import annotations

import json
import re
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from domain.calendar import LA_CALENDAR_PATH, SchoolCalendar
from domain.case.commands import CasePolicy
from domain.retention import DEFAULT_RETENTION_YEARS
from domain.types import EmailAddress, ShortText, check_email, error_message
from security.keys import KeyRing, KeyRingError, decode_kek

# The LAESTAB a school mailbox pattern is tried with.
_SAMPLE_LAESTAB = "8512000"
# A codec server token: long enough not to be guessed, and fit for an HTTP header.
_TOKEN_MIN = 32
_TOKEN = re.compile(rf"[!-~]{{{_TOKEN_MIN},}}")

# DEV ONLY: the key-encryption key `cme dev` uses when CME_ENCRYPTION_KEYS is not set, so that
# the local stack runs with no configuration. It is public (it is in this file): it protects
# nothing. A deployment sets its own (docker-compose.yml requires them).
DEV_KEK_ID = "dev-only"
DEV_KEK = "Q01FIGRldi1vbmx5IEtFSzogbmV2ZXIgdXNlIGxpdmU="  # "CME dev-only KEK: never use live"

_KEK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,99}")
_KEYS_FORMAT = 'JSON like {"2026-01": "<base64 of 32 random bytes>"}'


class Settings(BaseSettings):
    # hide_input_in_errors: a ValidationError's text never repeats a value (a key, a password).
    model_config = SettingsConfigDict(
        env_prefix="CME_", env_file=".env", extra="ignore", hide_input_in_errors=True
    )

    # Temporal
    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    task_queue: str = "cme-cases"

    # The case register by URL, e.g. postgresql+psycopg://cme:secret@db:5432/cme; when not set,
    # the SQLite file register.db in data_dir. Read it as register_url.
    database_url: str | None = None

    # Outgoing mail
    smtp_host: str = "localhost"
    smtp_port: int = 8025
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_start_tls: bool = False
    mail_from: EmailAddress = "cme-service@localhost"

    # Who is told what
    mash_email: EmailAddress = "mash@example.invalid"
    sat_email: EmailAddress = "sat@example.invalid"
    team_leader_email: EmailAddress = "sat-team-leader@example.invalid"
    # A school's attendance mailbox, from its LAESTAB: "{laestab}" is replaced by the 7 digits
    school_email_pattern: str = "attendance.{laestab}@schools.example.invalid"
    la_name: ShortText = "Portsmouth"

    # School-day calendar of the LA (TOML); by default the shipped Portsmouth file: 2025/26 and a
    # provisional 2026/27 to be replaced with the LA's published dates.
    calendar_file: Path = LA_CALENDAR_PATH

    # Secret that turns a child's identity (UPN, or name + date of birth) into a case reference
    # carrying no personal data. Change it per LA; changing it later breaks duplicate matching.
    case_key_secret: SecretStr = SecretStr("dev-only-change-me")

    # Key-encryption keys (KEKs) by id, which wrap each case's data key in the register: JSON
    # {"<id>": "<base64 of 32 random bytes>", ...}. The active one (encryption_key_id) wraps new
    # data keys; the others still unwrap theirs until `cme keys rotate` re-wraps them. By default,
    # the public DEV ONLY key above.
    encryption_keys: Annotated[dict[str, SecretStr], NoDecode] = Field(
        default_factory=lambda: {DEV_KEK_ID: SecretStr(DEV_KEK)}
    )
    encryption_key_id: str = DEV_KEK_ID

    # Children's Wellbeing and Schools Act 2026 s.37 (new s.434A Education Act 1996): LA consent
    # before home-education deregistration of a child at an LA-arranged independent special
    # school, or subject to s.47 enquiries or s.47(8) action. Off until commenced by regulations
    # (s.78(5)). (Consent for a pupil the LA placed at a special school is law now, not this.)
    s37_consent_rule: bool = False

    # Portsmouth's rule (seed appendix 1): a CTF never goes to an LA code without a school
    # (851LLLL); an unknown school is the Lost Pupil Database, XXXXXXX. An LA that allows them
    # turns it off.
    ctf_refuse_la_without_school: bool = True

    @property
    def case_policy(self) -> CasePolicy:
        """The LA's choices every case carries from its opening (so that it replays the same)."""
        return CasePolicy(
            s37_consent_rule=self.s37_consent_rule,
            refuse_la_without_school=self.ctf_refuse_la_without_school,
        )

    # Retention: a case's personal data is erased this many years after its latest episode
    # closed (the 2024 regulations keep registers for 6 years; the LA sets its own period). Run
    # daily by the Temporal Schedule ``cme-retention`` (`cme retention schedule`), which carries
    # the period: after changing it, run `cme retention schedule` again (cme dev and the compose
    # stack do at start).
    retention_years: int = DEFAULT_RETENTION_YEARS

    # Local embedded stack (cme dev)
    data_dir: Path = Path(".cme")
    ui_port: int = 8233

    # The codec server the Web UI decodes cases through (security/codec_server.py). Its port:
    # unset, the UI port + 1 (read it as codec_port). Its token, which a caller sends as a bearer
    # token and an officer's browser gives once to its /login: unset, `cme dev` makes one per run
    # (in <data_dir>/codec-token); `cme codec-server` refuses to start without one.
    codec_server_port: int | None = None
    codec_server_token: SecretStr | None = None

    @field_validator("retention_years")
    @classmethod
    def _retention(cls, years: int) -> int:
        if not 1 <= years <= 100:
            raise ValueError(f"must be a whole number of years from 1 to 100, not {years}")
        return years

    @field_validator("school_email_pattern")
    @classmethod
    def _school_mailbox(cls, pattern: str) -> str:
        pattern = pattern.strip()
        if "{laestab}" not in pattern:
            raise ValueError(
                "the pattern must contain {laestab}, which is replaced by a school's 7-digit "
                "LAESTAB, e.g. attendance.{laestab}@schools.example.org"
            )
        try:
            address = pattern.format(laestab=_SAMPLE_LAESTAB)
        except (KeyError, IndexError, ValueError):
            raise ValueError(
                "the pattern may contain only {laestab} in braces, e.g. "
                "attendance.{laestab}@schools.example.org"
            ) from None
        try:
            check_email(address)
        except ValueError as exc:
            raise ValueError(f"for school {_SAMPLE_LAESTAB} it gives {address!r}: {exc}") from None
        return pattern

    @field_validator("encryption_keys", mode="before")
    @classmethod
    def _keks(cls, value: Any) -> dict[str, SecretStr]:
        """Each KEK checked (32 bytes, base64); no message repeats a key, only its id."""
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if isinstance(value, str | bytes):
            try:
                value = json.loads(value)
            except ValueError:
                raise ValueError(f"must be {_KEYS_FORMAT}; it is not JSON") from None
        if not isinstance(value, dict) or not value:
            raise ValueError(f"must be {_KEYS_FORMAT}, with at least one key")
        keks: dict[str, SecretStr] = {}
        for kek_id, kek in value.items():
            if not isinstance(kek_id, str) or not _KEK_ID.fullmatch(kek_id):
                raise ValueError(
                    "a key-encryption key's id is 1 to 100 letters, digits or . _ : - "
                    "(starting with a letter or digit)"
                )
            text = kek.get_secret_value() if isinstance(kek, SecretStr) else kek
            if not isinstance(text, str):
                raise ValueError(f"key-encryption key {kek_id!r} must be base64 text")
            try:
                decode_kek(kek_id, text)
            except KeyRingError as exc:
                raise ValueError(str(exc)) from None
            keks[kek_id] = SecretStr(text.strip())
        return keks

    @field_validator("encryption_key_id")
    @classmethod
    def _active_kek(cls, kek_id: str, info: ValidationInfo) -> str:
        kek_id = kek_id.strip()
        keks = info.data.get("encryption_keys")
        if keks is not None and kek_id not in keks:  # None: CME_ENCRYPTION_KEYS is wrong itself
            raise ValueError(
                f"the active key-encryption key {kek_id!r} is not in CME_ENCRYPTION_KEYS "
                f"(ids: {', '.join(sorted(keks))})"
            )
        return kek_id

    @property
    def key_ring(self) -> KeyRing:
        """The key-encryption keys, the active one wrapping new data keys."""
        return KeyRing(
            {k: decode_kek(k, v.get_secret_value()) for k, v in self.encryption_keys.items()},
            self.encryption_key_id,
        )

    @property
    def uses_dev_kek(self) -> bool:
        """Whether the public DEV ONLY key-encryption key is configured (fine for `cme dev`)."""
        dev = decode_kek(DEV_KEK_ID, DEV_KEK)
        return any(
            decode_kek(k, v.get_secret_value()) == dev for k, v in self.encryption_keys.items()
        )

    @field_validator("codec_server_token")
    @classmethod
    def _codec_token(cls, token: SecretStr | None) -> SecretStr | None:
        if token is None or not token.get_secret_value().strip():
            return None
        if not _TOKEN.fullmatch(token.get_secret_value()):
            raise ValueError(
                f"a token is at least {_TOKEN_MIN} visible ASCII characters with no spaces, "
                "e.g. from `openssl rand -hex 32`"
            )
        return token

    @property
    def codec_port(self) -> int:
        """The codec server's port: ``codec_server_port`` when set, else the UI port + 1."""
        return self.codec_server_port or self.ui_port + 1

    @property
    def register_url(self) -> str:
        """The case register's database URL: ``database_url`` when set, else the SQLite file
        ``register.db`` in ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir.expanduser() / 'register.db'}"

    @property
    def mail_folder(self) -> Path:
        """The local stack's mail folder (``mail`` in ``data_dir``): every email `cme dev`'s mail
        server receives is an .eml file there, named with its case reference
        (:mod:`starter.mail_folder`); erasing a case deletes its files."""
        return self.data_dir.expanduser() / "mail"

    @cached_property
    def calendar(self) -> SchoolCalendar:
        return SchoolCalendar.load(self.calendar_file)


def settings_problems(exc: ValidationError) -> str:
    """Bad settings in one line, each named by its environment variable:
    ``CME_MASH_EMAIL: email address must look like name@example.org``."""
    return "; ".join(
        f"CME_{'_'.join(str(p) for p in e['loc']).upper()}: {error_message(e)}"
        for e in exc.errors()
    )
