"""The one Settings class: every knob of the worker, the starter and the local stack.

Values come from environment variables prefixed ``CME_`` (e.g. ``CME_TEMPORAL_ADDRESS``) or from a
``.env`` file in the working directory. Nothing else in the code base reads ``os.environ``.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.calendar import LA_CALENDAR_PATH, SchoolCalendar


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CME_", env_file=".env", extra="ignore")

    # Temporal
    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    task_queue: str = "cme-cases"

    # The case register (SQLite file by default; PostgreSQL by URL, e.g.
    # postgresql+psycopg://cme:secret@db:5432/cme)
    database_url: str = "sqlite:///.cme/register.db"

    # Outgoing mail
    smtp_host: str = "localhost"
    smtp_port: int = 8025
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_start_tls: bool = False
    mail_from: str = "cme-service@localhost"

    # Who is told what
    mash_email: str = "mash@example.invalid"
    sat_email: str = "sat@example.invalid"
    team_leader_email: str = "sat-team-leader@example.invalid"
    # A school's attendance mailbox, from its LAESTAB: "{laestab}" is replaced by the 7 digits
    school_email_pattern: str = "attendance.{laestab}@schools.example.invalid"
    la_name: str = "Portsmouth"

    # School-day calendar of the LA (TOML); by default the shipped Portsmouth file: 2025/26 and a
    # provisional 2026/27 to be replaced with the LA's published dates.
    calendar_file: Path = LA_CALENDAR_PATH

    # Secret that turns a child's identity (UPN, or name + date of birth) into a case reference
    # carrying no personal data. Change it per LA; changing it later breaks duplicate matching.
    case_key_secret: SecretStr = SecretStr("dev-only-change-me")

    # Children's Wellbeing and Schools Act 2026 s.37: LA consent before EHE deregistration of a
    # child subject to s.47 enquiries or at an LA-arranged special school. Off until commenced.
    s37_consent_rule: bool = False

    # Local embedded stack (cme dev)
    data_dir: Path = Path(".cme")
    ui_port: int = 8233

    @cached_property
    def calendar(self) -> SchoolCalendar:
        return SchoolCalendar.load(self.calendar_file)
