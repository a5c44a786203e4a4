"""The tests' key-encryption key: fixed and public, for tests only (never the dev default, never
a deployment's). Recorded histories' data keys are kept wrapped with it
(tests/workflows/histories/keys.json), so that they replay on any machine."""

from __future__ import annotations

import base64
import json
import os

from security.keys import KeyRing, decode_kek

TEST_KEK_ID = "test-kek-1"
TEST_KEK = "Q01FIHRlc3RzIG9ubHk6IGEgZml4ZWQsIHB1YmxpYyE="  # "CME tests only: a fixed, public!"

# The `cme` command's settings for the same key (CME_ENCRYPTION_KEYS, CME_ENCRYPTION_KEY_ID).
TEST_KEY_SETTINGS = {
    "CME_ENCRYPTION_KEYS": json.dumps({TEST_KEK_ID: TEST_KEK}),
    "CME_ENCRYPTION_KEY_ID": TEST_KEK_ID,
}


def fixed_key_ring() -> KeyRing:
    """A ring holding the tests' KEK alone, active."""
    return KeyRing({TEST_KEK_ID: decode_kek(TEST_KEK_ID, TEST_KEK)}, TEST_KEK_ID)


def random_kek() -> str:
    """A new KEK in the settings' format (base64 of 32 random bytes)."""
    return base64.b64encode(os.urandom(32)).decode()
