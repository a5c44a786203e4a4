"""Passwords: argon2id hashes (argon2-cffi, its RFC 9106 low-memory profile by default), one-time
passwords, and the rules a new password must meet. Shared by the web app and `cme users`."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = ["MAX_PASSWORD_LENGTH", "Passwords", "new_password_problem", "one_time_password"]

MAX_PASSWORD_LENGTH = 256
# One-time passwords: no characters that are easily confused when read out (0/O, 1/l/I).
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789"


def one_time_password() -> str:
    """Four groups of four characters (about 93 bits), e.g. ``Hk7q-3Rtz-pW9m-Xc4e``."""
    return "-".join("".join(secrets.choice(_ALPHABET) for _ in range(4)) for _ in range(4))


class Passwords:
    """Hashing and checking passwords with one argon2 hasher."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self.hasher = hasher or PasswordHasher()
        # Checked against when there is no account, so that a sign-in for an unknown address
        # takes as long as one with a wrong password.
        self._dummy = self.hasher.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        """Whether ``password`` matches ``password_hash`` (``None``: no password, always no)."""
        try:
            return self.hasher.verify(password_hash or self._dummy, password) and bool(
                password_hash
            )
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self.hasher.check_needs_rehash(password_hash)


def new_password_problem(
    password: str, *, min_length: int, email: str, current_hash: str | None, passwords: Passwords
) -> str | None:
    """Why ``password`` cannot be the new one (``None``: it can)."""
    if len(password) < min_length:
        return f"Your new password must be at least {min_length} characters"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"Your new password must be at most {MAX_PASSWORD_LENGTH} characters"
    if password.strip().lower() == email.strip().lower():
        return "Your new password must not be your email address"
    if current_hash is not None and passwords.verify(current_hash, password):
        return "Your new password must be different from your current (or one-time) password"
    return None
