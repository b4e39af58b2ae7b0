"""HMAC-SHA256 request signing for the generic REST/webhook integration (both directions).

Header `X-MES-Signature: t=<unix seconds>,n=<nonce>,v1=<hex>` where
`v1 = HMAC-SHA256(secret, f"{t}.{n}.{METHOD}.{path?query}.".encode() + body)`.
The receiver refuses a bad MAC, a timestamp outside `tolerance` seconds (replay of an old
request) and a nonce it has already seen inside that window (replay of a fresh one). Signing
method and path as well as the body stops a signed body from being replayed to another endpoint.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

SIGNATURE_HEADER = "X-MES-Signature"
DEFAULT_TOLERANCE = 300


class SignatureError(ValueError):
    """The signature header is missing, malformed, stale, replayed or wrong (`reason`)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _mac(secret: str, timestamp: str, nonce: str, method: str, target: str, body: bytes) -> str:
    message = f"{timestamp}.{nonce}.{method.upper()}.{target}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(
    secret: str,
    method: str,
    target: str,
    body: bytes = b"",
    *,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> str:
    """The `X-MES-Signature` header value for a request (`target` = path plus query string)."""
    if not secret:
        raise SignatureError("no signing secret configured")
    t = str(int(time.time()) if timestamp is None else int(timestamp))
    n = nonce or secrets.token_hex(12)
    return f"t={t},n={n},v1={_mac(secret, t, n, method, target, body)}"


def verify(
    secret: str,
    header: str,
    method: str,
    target: str,
    body: bytes = b"",
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
    seen_nonces: dict[str, float] | None = None,
) -> None:
    """Raise `SignatureError` unless `header` signs this request. `seen_nonces` (nonce → time),
    if given, is checked and updated to refuse a replay inside the tolerance window."""
    if not header:
        raise SignatureError("missing signature header")
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        t, n, v1 = fields["t"], fields["n"], fields["v1"]
        ts = int(t)
    except (KeyError, ValueError):
        raise SignatureError("malformed signature header") from None
    now = time.time() if now is None else now
    if abs(now - ts) > tolerance:
        raise SignatureError(f"timestamp outside the {tolerance}s tolerance (replay or clock skew)")
    if not hmac.compare_digest(_mac(secret, t, n, method, target, body), v1):
        raise SignatureError("signature does not match")
    if seen_nonces is not None:
        while seen_nonces:  # insertion order is time order: drop the expired from the front
            oldest = next(iter(seen_nonces))
            if now - seen_nonces[oldest] <= tolerance:
                break
            del seen_nonces[oldest]
        if n in seen_nonces:
            raise SignatureError("nonce already used (replayed request)")
        seen_nonces[n] = now
