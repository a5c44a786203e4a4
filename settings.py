"""The one Settings class: every knob of the worker, the starter and the local stack.

Values come from environment variables prefixed ``CME_`` (e.g. ``CME_TEMPORAL_ADDRESS``) or from a
``.env`` file in the working directory. Nothing else in the code base reads ``os.environ``.

Values are checked with the types of :mod:`domain.types` when the settings are read: a bad email
address or school mailbox pattern stops the worker and the ``cme`` command at once, naming the
variable, rather than failing the first email of a case.

The case register is at :attr:`Settings.register_url`: ``CME_DATABASE_URL`` when set, else the
SQLite file ``register.db`` in the data directory (``CME_DATA_DIR``, ``.cme`` by default); the local
stack's mail folder is :attr:`Settings.mail_folder`, ``mail`` in the same directory.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.calendar import LA_CALENDAR_PATH, SchoolCalendar
from domain.case.commands import CasePolicy
from domain.retention import DEFAULT_RETENTION_YEARS
from domain.types import EmailAddress, ShortText, check_email, error_message

# The LAESTAB a school mailbox pattern is tried with.
_SAMPLE_LAESTAB = "8512000"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CME_", env_file=".env", extra="ignore")

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
