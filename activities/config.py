"""How the activities send mail, and to whom: built from :class:`settings.Settings` by the worker,
and from local servers by the tests."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from settings import Settings

__all__ = ["MailConfig"]


class MailConfig(BaseModel):
    """Where and how the activities send mail, and who is told what."""

    smtp_host: str
    smtp_port: int
    smtp_username: str | None = None
    smtp_password: str | None = Field(default=None, repr=False)
    # "starttls", "tls" (implicit) or "none"; the server's certificate is always checked, against
    # the system's CAs and ca_cert's (PEM, a private CA: CME_SMTP_CA_FILE, read with the
    # settings) when given.
    tls_mode: Literal["none", "starttls", "tls"] = "none"
    ca_cert: bytes | None = Field(default=None, repr=False)
    mail_from: str
    mash_email: str
    sat_email: str
    team_leader_email: str
    school_email_pattern: str  # e.g. "attendance.{laestab}@schools.example.invalid"
    la_name: str

    @classmethod
    def from_settings(cls, settings: Settings) -> MailConfig:
        password = settings.smtp_password
        return cls(
            smtp_host=settings.smtp_host,
            smtp_port=settings.smtp_port,
            smtp_username=settings.smtp_username,
            smtp_password=password.get_secret_value() if password is not None else None,
            tls_mode=settings.smtp_tls,
            ca_cert=settings.smtp_ca_file.data if settings.smtp_ca_file is not None else None,
            mail_from=settings.mail_from,
            mash_email=settings.mash_email,
            sat_email=settings.sat_email,
            team_leader_email=settings.team_leader_email,
            school_email_pattern=settings.school_email_pattern,
            la_name=settings.la_name,
        )
