"""API apps' keys and secrets, and the Kite login checksum.

Kite's ``POST /session/token`` proves the caller holds the app's secret with
``checksum = sha256(api_key + request_token + api_secret)``, so the server must be able to
recompute the secret, which rules out storing only a one-way hash of it. Instead no secret is
stored at all: an app's secret is ``HMAC-SHA256(key, app id + salt)``, where ``salt`` is random
per app and kept in the database, and ``key`` is the server's app-secret key, kept outside the
database: ``PAPERDESK_APP_SECRET_KEY`` (64 hex digits) or else the file ``app_secret.key`` in the
data directory, created (mode 0600) at first start. A database dump alone reveals no secret;
replacing the key invalidates every app's secret at once.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path

logger = logging.getLogger(__name__)

APP_SECRET_KEY_ENV = "PAPERDESK_APP_SECRET_KEY"
KEY_FILE_NAME = "app_secret.key"
KEY_BYTES = 32
SALT_BYTES = 16
# Kite's api_key and api_secret are short lowercase alphanumerics; ours are too, from an
# alphabet without look-alikes.
API_KEY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
API_KEY_CHARS = 16
SECRET_HEX_CHARS = 32  # 128 bits of the HMAC


class AppSecretKeyError(ValueError):
    """The app-secret key in the environment is not 64 hex digits."""


def load_key(data_dir: str) -> bytes:
    """The server's app-secret key: from the environment, else the data directory's file
    (created on first use)."""
    configured = os.environ.get(APP_SECRET_KEY_ENV)
    if configured:
        try:
            key = bytes.fromhex(configured)
        except ValueError:
            key = b""
        if len(key) != KEY_BYTES:
            raise AppSecretKeyError(f"{APP_SECRET_KEY_ENV} must be {KEY_BYTES * 2} hex digits")
        return key
    path = Path(data_dir) / KEY_FILE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(KEY_BYTES)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # made by an earlier start (or by another process just now)
        return bytes.fromhex(path.read_text().strip())
    with os.fdopen(descriptor, "w") as handle:
        handle.write(key.hex())
    logger.info("created the app-secret key %s (keep it with the database's backups)", path)
    return key


def new_api_key() -> str:
    return "".join(secrets.choice(API_KEY_ALPHABET) for _ in range(API_KEY_CHARS))


def new_salt() -> bytes:
    return secrets.token_bytes(SALT_BYTES)


def app_secret(key: bytes, app_id: str, salt: bytes) -> str:
    """The app's ``api_secret``, recomputed from the server key and the app's stored salt."""
    return hmac.new(key, app_id.encode() + salt, hashlib.sha256).hexdigest()[:SECRET_HEX_CHARS]


def login_checksum(api_key: str, request_token: str, api_secret: str) -> str:
    """Kite's session checksum: the hex SHA-256 of the three strings joined."""
    return hashlib.sha256((api_key + request_token + api_secret).encode()).hexdigest()


def checksum_matches(sent: str, api_key: str, request_token: str, api_secret: str) -> bool:
    expected = login_checksum(api_key, request_token, api_secret)
    return hmac.compare_digest(sent.strip().lower().encode(), expected.encode())
