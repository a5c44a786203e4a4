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

LA staff sign in to the web app with OpenID Connect (``CME_OIDC_*``, :mod:`web.oidc`,
``docs/oidc.md``) when ``CME_OIDC_ISSUER``, ``CME_OIDC_CLIENT_ID`` and ``CME_OIDC_CLIENT_SECRET``
are set (:attr:`Settings.oidc_enabled`).

The web app's settings are ``CME_WEB_*``: where `cme web` listens, its session secret (required
by `cme web`; `cme dev` makes one), secure cookies, session timeouts and sign-in throttling. The
JSON API's (``/api/v1``, docs/api.md) is ``CME_API_RATE_LIMIT_PER_MINUTE``.
"""

from __future__ import annotations

import ipaddress
import json
import re
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self, TypedDict
from urllib.parse import urlsplit

from pydantic import (
    Field,
    PlainValidator,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from domain.calendar import LA_CALENDAR_PATH
from domain.retention import DEFAULT_RETENTION_YEARS
from domain.types import EmailAddress, ShortText, check_email, error_message
from security.keys import KeyRingError, decode_kek
from security.tls import PemFile, check_key_pair, pem_file, temporal_tls_config

if TYPE_CHECKING:
    # Imported where they are used: every `cme` command reads the settings, and one that talks
    # to no case (`cme calendar`) starts without the case model or the Temporal SDK (issue 11).
    from temporalio.service import TLSConfig

    from domain.calendar import SchoolCalendar
    from domain.case.commands import CasePolicy
    from security.keys import KeyRing

# The LAESTAB a school mailbox pattern is tried with.
_SAMPLE_LAESTAB = "8512000"
# A codec server token: long enough not to be guessed, and fit for an HTTP header.
_TOKEN_MIN = 32
_TOKEN = re.compile(rf"[!-~]{{{_TOKEN_MIN},}}")
# An origin, as a browser sends it: scheme://host[:port].
_ORIGIN = re.compile(r"https?://[^/\s?#]+")

# DEV ONLY: the key-encryption key `cme dev` uses when CME_ENCRYPTION_KEYS is not set, so that
# the local stack runs with no configuration. It is public (it is in this file): it protects
# nothing. A deployment sets its own (docker-compose.yml requires them).
DEV_KEK_ID = "dev-only"
DEV_KEK = "Q01FIGRldi1vbmx5IEtFSzogbmV2ZXIgdXNlIGxpdmU="  # "CME dev-only KEK: never use live"

# How the connection to the mail server is protected: upgraded with STARTTLS, TLS from the first
# byte (implicit TLS, "SMTPS"), or not at all (a mail server on this machine only, see
# Settings.smtp_plain_refusal).
SmtpTlsMode = Literal["none", "starttls", "tls"]
# The names of this machine: plain SMTP to them never crosses a network.
_LOCAL_HOSTS = frozenset({"localhost", "localhost.", "ip6-localhost"})

_KEK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,99}")
_KEYS_FORMAT = 'JSON like {"2026-01": "<base64 of 32 random bytes>"}'

# Hosts an OpenID provider may be reached on over plain http: the tests' provider on loopback.
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# A Microsoft Entra ID directory (tenant) ID, the `tid` claim of its tokens.
_TENANT_ID = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)


class Settings(BaseSettings):
    # hide_input_in_errors: a ValidationError's text never repeats a value (a key, a password).
    # validate_default off (pydantic-settings turns it on): the defaults below are good values,
    # and checking them again (the email addresses with email-validator) cost every `cme`
    # command a few hundredths of a second at start-up (issue 11); a field whose check looks at
    # another field's value (the active KEK, OpenID Connect's three) still checks its default.
    model_config = SettingsConfigDict(
        env_prefix="CME_",
        env_file=".env",
        extra="ignore",
        hide_input_in_errors=True,
        validate_default=False,
    )

    # Temporal
    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    task_queue: str = "cme-cases"
    # TLS to Temporal (a production cluster; Temporal Cloud): on when temporal_tls is true or any
    # of the others is set (as the temporal CLI has it). The server's certificate is checked
    # against temporal_tls_ca_file (PEM), else the system's CAs, for temporal_tls_server_name
    # when set, else the address's host. Mutual TLS: this client's certificate and its key
    # (both). Temporal Cloud: an API key (sent over TLS only), or mutual TLS. Each file is read
    # once, when the settings are read. Read them all as temporal_client_options().
    temporal_tls: bool | None = None
    temporal_tls_ca_file: Annotated[PemFile | None, NoDecode, PlainValidator(pem_file())] = None
    temporal_tls_cert_file: Annotated[PemFile | None, NoDecode, PlainValidator(pem_file())] = None
    temporal_tls_key_file: Annotated[
        PemFile | None, NoDecode, PlainValidator(pem_file("private key"))
    ] = None
    temporal_tls_server_name: str | None = None
    temporal_api_key: SecretStr | None = None
    # The worker's capacity (docs/deploy.md sizes them). Cached workflows: open cases kept in
    # memory between their steps (each about 100 KB), so that a case's next step does not
    # replay its history; a case not in the cache is replayed when it next wakes. Slots: how
    # many workflow tasks and activities the worker runs at once.
    max_cached_workflows: int = 1000
    max_concurrent_workflow_tasks: int = 100
    max_concurrent_activities: int = 100

    # The case register by URL, e.g. postgresql+psycopg://cme:secret@db:5432/cme; when not set,
    # the SQLite file register.db in data_dir. Read it as register_url.
    database_url: str | None = None

    # Outgoing mail
    smtp_host: str = "localhost"
    smtp_port: int = 8025
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    # How the connection is protected: "starttls" (the usual, port 587), "tls" (implicit TLS,
    # port 465) or "none". The server's certificate is always checked, against the system's CAs
    # and smtp_ca_file (a private CA's certificate, PEM) when given. "none" is refused (the
    # worker does not start) unless the mail server is on this machine (localhost, 127.0.0.1,
    # ::1: `cme dev`'s mail folder) or is smtp_allow_plain_to (the compose stack's test mail
    # catcher, "mail"). Unset: "starttls" when the older smtp_start_tls is true, else "none".
    smtp_tls_mode: SmtpTlsMode | None = None
    smtp_start_tls: bool = False  # the older switch: true means smtp_tls_mode "starttls"
    smtp_ca_file: Annotated[PemFile | None, NoDecode, PlainValidator(pem_file())] = None
    smtp_allow_plain_to: str | None = None
    mail_from: EmailAddress = "cme-service@localhost"

    # Who is told what
    mash_email: EmailAddress = "mash@example.invalid"
    sat_email: EmailAddress = "sat@example.invalid"
    team_leader_email: EmailAddress = "sat-team-leader@example.invalid"
    # A school's attendance mailbox, from its LAESTAB: "{laestab}" is replaced by the 7 digits
    school_email_pattern: str = "attendance.{laestab}@schools.example.invalid"
    la_name: ShortText = "Portsmouth"
    # The LA's 9-character ONS code (new_la_code in the DfE's data: E06000044 is Portsmouth), in
    # the DfE return's CSV; blank there until set.
    la_ons_code: str | None = None

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
    encryption_key_id: str = Field(default=DEV_KEK_ID, validate_default=True)

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
        from domain.case.commands import CasePolicy

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

    # OpenID Connect sign-in for LA staff (web/oidc.py, docs/oidc.md): on when the issuer, the
    # client id and its secret are set. The issuer exactly as the provider's discovery document
    # and ID tokens name it: for Microsoft Entra ID the tenant's own
    # https://login.microsoftonline.com/<tenant id>/v2.0 (never /common or /organizations).
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = Field(default=None, validate_default=True)
    oidc_scopes: str = "openid email profile"
    # The sign-in button's words.
    oidc_label: ShortText = "Sign in with your council account"
    # The callback URL registered with the provider (https://<host>/sign-in/oidc/callback);
    # unset: built from the request, which behind a proxy needs its forwarded headers trusted.
    oidc_redirect_uri: str | None = None
    # The claim that carries the user's email address: "email", or Entra ID's
    # "preferred_username" (the sign-in name, usually the address; see docs/oidc.md).
    oidc_email_claim: Literal["email", "preferred_username"] = "email"
    # Entra ID: the directory (tenant) ID that every ID token's `tid` claim must be.
    oidc_tenant_id: str | None = None
    # Whether an address the provider does not mark "email_verified": true (Entra ID never sends
    # the claim) counts as verified: only for a directory the LA itself administers. An explicit
    # "email_verified": false is never trusted.
    oidc_trust_email: bool = False

    # The web app (web/, `cme web`; `cme dev` runs it too). Where `cme web` listens.
    web_host: str = "127.0.0.1"
    web_port: int = 8000
    # The app's address as the people's browsers see it (scheme://host[:port]), behind the LA's
    # proxy: POST forms must come from it (their Origin or Referer). Unset: the request's own.
    web_public_url: str | None = None
    # The secret that keys the session tokens' hashes (HMAC-SHA256) in the register: 32+ visible
    # characters. `cme web` refuses to start without it; `cme dev` makes one, kept in
    # <data_dir>/web-session-secret. Changing it ends every session.
    web_session_secret: SecretStr | None = None
    # Cookies only over https (Secure, the __Host- prefix, and HSTS on every answer). Only `cme
    # dev`, on http://127.0.0.1, turns it off.
    web_secure_cookies: bool = True
    # A session ends after this many minutes without a request, and this many hours after sign-in.
    web_session_idle_minutes: int = 30
    web_session_max_hours: int = 12
    # Sign-in throttling, over every web process (counted in the register): an account after this
    # many failed attempts in the window, a client address after that many.
    web_sign_in_attempts: int = 5
    web_sign_in_address_attempts: int = 30
    web_sign_in_window_minutes: int = 15
    web_password_min_length: int = 12
    # Proxies whose X-Forwarded-For / X-Forwarded-Proto `cme web` believes (uvicorn's
    # forwarded_allow_ips: comma-separated addresses, or "*" behind a proxy that sets them).
    web_trusted_proxies: str = "127.0.0.1"

    # The JSON API (/api/v1, web/api/): how many requests one client may make in a minute (per
    # web process), after which it is answered 429 with Retry-After.
    api_rate_limit_per_minute: int = 120

    @field_validator("smtp_tls_mode", "smtp_allow_plain_to", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        """An empty value (``CME_SMTP_CA_FILE=``, as a compose file passes an unset one) is
        unset."""
        if isinstance(value, str):
            value = value.strip()
            return value or None
        return value

    @field_validator("smtp_start_tls")
    @classmethod
    def _start_tls(cls, start_tls: bool, info: ValidationInfo) -> bool:
        mode = info.data.get("smtp_tls_mode")
        if start_tls and mode not in (None, "starttls"):
            raise ValueError(
                f"true means CME_SMTP_TLS_MODE=starttls, but CME_SMTP_TLS_MODE is {mode}: set "
                "CME_SMTP_TLS_MODE alone"
            )
        return start_tls

    @property
    def smtp_tls(self) -> SmtpTlsMode:
        """The mail connection's protection: ``smtp_tls_mode``, else ``starttls`` when the older
        ``smtp_start_tls`` is true, else ``none``."""
        if self.smtp_tls_mode is not None:
            return self.smtp_tls_mode
        return "starttls" if self.smtp_start_tls else "none"

    def smtp_plain_refusal(self) -> str | None:
        """Why mail may not go to ``smtp_host`` as the settings stand (one line naming
        CME_SMTP_TLS_MODE), or ``None``. Plain SMTP (``none``) is allowed only to a mail server
        on this machine (``localhost``, a loopback address: the local stack's mail folder) or to
        ``smtp_allow_plain_to`` (the compose stack's test mail catcher); any other host needs
        ``starttls`` or ``tls``."""
        if self.smtp_tls != "none" or is_local_host(self.smtp_host):
            return None
        allowed = self.smtp_allow_plain_to
        if allowed is not None and self.smtp_host.strip().lower() == allowed.lower():
            return None
        return (
            f"CME_SMTP_TLS_MODE is none: mail to {self.smtp_host} would cross the network "
            "unencrypted; set CME_SMTP_TLS_MODE=starttls (or tls for implicit TLS, e.g. port "
            "465). Plain SMTP goes only to localhost, or to CME_SMTP_ALLOW_PLAIN_TO (a test mail "
            "catcher)"
        )

    @field_validator("temporal_tls", "temporal_tls_server_name", mode="before")
    @classmethod
    def _blank_name_is_unset(cls, value: Any) -> Any:
        """An empty value (as a compose file passes an unset one) is unset."""
        return (value.strip() or None) if isinstance(value, str) else value

    @field_validator("temporal_api_key")
    @classmethod
    def _api_key(cls, key: SecretStr | None) -> SecretStr | None:
        if key is None or not key.get_secret_value().strip():
            return None
        if any(c.isspace() or not c.isprintable() for c in key.get_secret_value().strip()):
            raise ValueError("an API key is one word of visible characters")
        return SecretStr(key.get_secret_value().strip())

    @model_validator(mode="after")
    def _temporal_tls_options(self) -> Self:
        """The mutual TLS pair complete and matching; TLS not switched off under its options.
        Each message starts with the variable it is about."""
        cert, key = self.temporal_tls_cert_file, self.temporal_tls_key_file
        if cert is not None and key is None:
            raise ValueError(
                "CME_TEMPORAL_TLS_KEY_FILE: needed with CME_TEMPORAL_TLS_CERT_FILE (mutual TLS "
                "takes the client's certificate and its private key)"
            )
        if key is not None and cert is None:
            raise ValueError(
                "CME_TEMPORAL_TLS_CERT_FILE: needed with CME_TEMPORAL_TLS_KEY_FILE (mutual TLS "
                "takes the client's certificate and its private key)"
            )
        if cert is not None and key is not None:
            try:
                check_key_pair(cert, key)
            except ValueError as exc:
                raise ValueError(f"CME_TEMPORAL_TLS_KEY_FILE: {exc}") from None
        given = [name for name, value in self._temporal_tls_given() if value is not None]
        if self.temporal_tls is False and given:
            raise ValueError(
                f"CME_TEMPORAL_TLS: false, but {', '.join(given)} "
                f"{'is' if len(given) == 1 else 'are'} set, which need TLS (unset "
                f"{'it' if len(given) == 1 else 'them'}, or CME_TEMPORAL_TLS)"
            )
        return self

    def _temporal_tls_given(self) -> list[tuple[str, object]]:
        return [
            ("CME_TEMPORAL_TLS_CA_FILE", self.temporal_tls_ca_file),
            ("CME_TEMPORAL_TLS_CERT_FILE", self.temporal_tls_cert_file),
            ("CME_TEMPORAL_TLS_KEY_FILE", self.temporal_tls_key_file),
            ("CME_TEMPORAL_TLS_SERVER_NAME", self.temporal_tls_server_name),
            ("CME_TEMPORAL_API_KEY", self.temporal_api_key),
        ]

    @property
    def temporal_uses_tls(self) -> bool:
        """Whether the connection to Temporal is TLS: CME_TEMPORAL_TLS, or any of its options."""
        if self.temporal_tls is not None:
            return self.temporal_tls
        return any(value is not None for _, value in self._temporal_tls_given())

    def temporal_client_options(self) -> TemporalClientOptions:
        """``Client.connect``'s keyword arguments for the settings' Temporal, but its address
        (``Client.connect(settings.temporal_address, **settings.temporal_client_options(),
        data_converter=...)``): the namespace, TLS (from the files read with the settings) and
        the API key. Every client of the service connects with them."""
        tls: bool | TLSConfig = False
        if self.temporal_uses_tls:
            tls = temporal_tls_config(
                ca=self.temporal_tls_ca_file,
                cert=self.temporal_tls_cert_file,
                key=self.temporal_tls_key_file,
                server_name=self.temporal_tls_server_name,
            )
        key = self.temporal_api_key
        return {
            "namespace": self.temporal_namespace,
            "tls": tls,
            "api_key": key.get_secret_value() if key is not None else None,
        }

    @field_validator(
        "max_cached_workflows", "max_concurrent_workflow_tasks", "max_concurrent_activities"
    )
    @classmethod
    def _capacity(cls, value: int, info: ValidationInfo) -> int:
        # A cache of none is allowed (every step replays); the slots need one at least.
        least = 0 if info.field_name == "max_cached_workflows" else 1
        if not least <= value <= 100_000:
            raise ValueError(f"must be a whole number from {least} to 100000, not {value}")
        return value

    def worker_options(self) -> WorkerOptions:
        """The worker's capacity, as ``Worker``'s keyword arguments."""
        return {
            "max_cached_workflows": self.max_cached_workflows,
            "max_concurrent_workflow_tasks": self.max_concurrent_workflow_tasks,
            "max_concurrent_activities": self.max_concurrent_activities,
        }

    @field_validator("retention_years")
    @classmethod
    def _retention(cls, years: int) -> int:
        if not 1 <= years <= 100:
            raise ValueError(f"must be a whole number of years from 1 to 100, not {years}")
        return years

    @field_validator("la_ons_code")
    @classmethod
    def _la_ons_code(cls, code: str | None) -> str | None:
        if code is None or not code.strip():
            return None
        normal = code.strip().upper()
        if not re.fullmatch(r"E(06|08|09|10)[0-9]{6}", normal):
            raise ValueError(
                "an LA's ONS code is E06, E08, E09 or E10 then 6 digits, e.g. E06000044"
            )
        return normal

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
        from security.keys import KeyRing

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

    @field_validator("oidc_issuer", "oidc_redirect_uri")
    @classmethod
    def _oidc_url(cls, url: str | None) -> str | None:
        if url is None or not url.strip():
            return None
        url = url.strip()
        parts = urlsplit(url)
        # Plain http only for a provider or app on this machine (tests, development).
        loopback = parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS
        if not (loopback or parts.scheme == "https") or not parts.hostname:
            raise ValueError(
                "must be an https:// URL (plain http only on 127.0.0.1 or localhost), e.g. "
                "https://login.microsoftonline.com/<tenant id>/v2.0"
            )
        if parts.query or parts.fragment:
            raise ValueError("must not have a query (?...) or a fragment (#...)")
        return url

    @field_validator("oidc_client_id", "oidc_tenant_id")
    @classmethod
    def _oidc_blank(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @field_validator("oidc_tenant_id")
    @classmethod
    def _oidc_tenant(cls, tenant: str | None) -> str | None:
        if tenant is not None and not _TENANT_ID.fullmatch(tenant):
            raise ValueError(
                "must be the Entra ID directory (tenant) ID, a GUID like "
                "72f988bf-86f1-41af-91ab-2d7cd011db47"
            )
        return tenant.lower() if tenant else None

    @field_validator("oidc_client_secret")
    @classmethod
    def _oidc_complete(cls, secret: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        """Issuer, client id and secret go together (checked here, the last of the three, so
        that the message names a variable)."""
        if secret is not None and not secret.get_secret_value().strip():
            secret = None
        given = {
            "CME_OIDC_ISSUER": info.data.get("oidc_issuer") is not None,
            "CME_OIDC_CLIENT_ID": info.data.get("oidc_client_id") is not None,
            "CME_OIDC_CLIENT_SECRET": secret is not None,
        }
        if "oidc_issuer" not in info.data:  # CME_OIDC_ISSUER is wrong itself
            return secret
        if any(given.values()) and not all(given.values()):
            missing = ", ".join(name for name, is_set in given.items() if not is_set)
            raise ValueError(
                "OpenID Connect sign-in needs CME_OIDC_ISSUER, CME_OIDC_CLIENT_ID and "
                f"CME_OIDC_CLIENT_SECRET together; missing: {missing}"
            )
        return secret

    @field_validator("oidc_scopes")
    @classmethod
    def _oidc_scopes(cls, scopes: str) -> str:
        words = scopes.split()
        if "openid" not in words:
            raise ValueError('must include "openid", e.g. "openid email profile"')
        return " ".join(dict.fromkeys(words))

    @property
    def oidc_enabled(self) -> bool:
        """Whether LA staff can sign in with OpenID Connect (issuer, client id and secret set)."""
        return self.oidc_issuer is not None and self.oidc_client_secret is not None

    @field_validator("web_session_secret")
    @classmethod
    def _web_secret(cls, secret: SecretStr | None) -> SecretStr | None:
        if secret is None or not secret.get_secret_value().strip():
            return None
        if not _TOKEN.fullmatch(secret.get_secret_value()):
            raise ValueError(
                f"a session secret is at least {_TOKEN_MIN} visible ASCII characters with no "
                "spaces, e.g. from `openssl rand -hex 32`"
            )
        return secret

    @field_validator("web_public_url")
    @classmethod
    def _web_public_url(cls, url: str | None) -> str | None:
        if url is None or not url.strip():
            return None
        cleaned = url.strip().rstrip("/")
        if not _ORIGIN.fullmatch(cleaned):
            raise ValueError(
                f"must be scheme://host[:port] with no path, e.g. https://cme.example.gov.uk, not "
                f"{url!r}"
            )
        return cleaned

    @field_validator("web_port")
    @classmethod
    def _web_port(cls, port: int) -> int:
        if not 1 <= port <= 65535:
            raise ValueError(f"a port is 1 to 65535, not {port}")
        return port

    @field_validator(
        "web_session_idle_minutes",
        "web_session_max_hours",
        "web_sign_in_attempts",
        "web_sign_in_address_attempts",
        "web_sign_in_window_minutes",
        "api_rate_limit_per_minute",
    )
    @classmethod
    def _positive(cls, value: int) -> int:
        if not 1 <= value <= 10_000:
            raise ValueError(f"must be a whole number from 1 to 10000, not {value}")
        return value

    @field_validator("web_password_min_length")
    @classmethod
    def _password_length(cls, value: int) -> int:
        if not 8 <= value <= 128:
            raise ValueError(f"must be from 8 to 128 characters, not {value}")
        return value

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
        from domain.calendar import SchoolCalendar

        return SchoolCalendar.load(self.calendar_file)


class WorkerOptions(TypedDict):
    """``Worker``'s keyword arguments from the settings (see :meth:`Settings.worker_options`)."""

    max_cached_workflows: int
    max_concurrent_workflow_tasks: int
    max_concurrent_activities: int


class TemporalClientOptions(TypedDict):
    """``Client.connect``'s keyword arguments from the settings (see
    :meth:`Settings.temporal_client_options`)."""

    namespace: str
    tls: bool | TLSConfig
    api_key: str | None


def is_local_host(host: str) -> bool:
    """Whether ``host`` is this machine: ``localhost`` or a loopback address (127.0.0.0/8,
    ``::1``)."""
    name = host.strip().strip("[]").lower()
    if name in _LOCAL_HOSTS:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def settings_problems(exc: ValidationError) -> str:
    """Bad settings in one line, each named by its environment variable:
    ``CME_MASH_EMAIL: email address must look like name@example.org`` (a check of several
    settings names its variable itself)."""
    return "; ".join(
        f"CME_{'_'.join(str(p) for p in e['loc']).upper()}: {error_message(e)}"
        if e["loc"]
        else error_message(e)
        for e in exc.errors()
    )
