"""HTTP plumbing shared by the adapters: one `httpx.Client`, failures turned into AdapterError.

Classification (what the outbox does next):
- timeout, connection refused/reset, connection dropped without an answer → retryable (the
  outcome of a POST is then *unknown*: the adapter must not post twice, see each adapter);
- 408, 425, 429 (with `retry_after` from `Retry-After`, seconds or an HTTP date), 5xx → retryable;
- any other 4xx → not retryable, with the ERP's own message (parsed by the adapter's
  `error_detail`) so the dead-letter screen shows what to fix.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from typing import Any

import httpx

from erp_connectors.adapters.base import AdapterError, DeliveryResult

RETRYABLE_STATUSES = {408, 425, 429, 500, 502, 503, 504}


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _text(body: bytes | None, limit: int = 2000) -> str:
    return (body or b"")[:limit].decode("utf-8", "replace")


def default_error_detail(response: httpx.Response) -> str:
    text = response.text.strip()
    return text[:500] or response.reason_phrase


class ErpHttp:
    def __init__(
        self,
        *,
        base_url: str,
        timeout: float,
        error_detail: Callable[[httpx.Response], str] = default_error_detail,
        headers: dict[str, str] | None = None,
        auth: Any = None,
        erp: str = "ERP",
    ) -> None:
        self.erp = erp
        self.timeout = timeout
        self.trace: list[dict[str, Any]] | None = None
        self.error_detail = error_detail
        self.client = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            headers=headers or {},
            auth=auth,
            follow_redirects=False,
        )

    def close(self) -> None:
        self.client.close()

    def traced(self, deliver: Callable[[], DeliveryResult]) -> DeliveryResult:
        """Run one delivery, recording its HTTP exchanges on the result (or on the error)."""
        self.trace = []
        try:
            result = deliver()
        except AdapterError as exc:
            exc.exchanges = self.trace
            raise
        finally:
            trace, self.trace = self.trace, None
        result.exchanges = trace
        return result

    def _record(self, request: httpx.Request, started: float, **outcome: Any) -> None:
        if self.trace is None:
            return
        secret = "/oauth2/" in request.url.path or b"client_secret" in (request.content or b"")
        body = "<credentials not kept>" if secret else _text(request.content)
        if secret and "response" in outcome:
            outcome["response"] = "<token not kept>"
        self.trace.append(
            {
                "method": request.method,
                "url": str(request.url),
                "request": body,
                "ms": round((time.perf_counter() - started) * 1000, 1),
                **outcome,
            }
        )

    def send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One request; transport failures become retryable AdapterErrors."""
        return self.send_request(self.client.build_request(method, url, **kwargs))

    def send_request(self, request: httpx.Request) -> httpx.Response:
        method, url = request.method, request.url.path
        started = time.perf_counter()
        try:
            response = self.client.send(request)
        except httpx.TimeoutException:
            self._record(request, started, error=f"no answer within {self.timeout}s")
            raise AdapterError(
                f"{self.erp}: no answer within {self.timeout}s to {method} {url} (outcome unknown)",
                retryable=True,
            ) from None
        except httpx.TransportError as exc:
            self._record(request, started, error=f"{type(exc).__name__}: {exc}")
            raise AdapterError(
                f"{self.erp}: {method} {url} failed before an answer "
                f"({type(exc).__name__}: {exc}; outcome unknown)",
                retryable=True,
            ) from None
        self._record(
            request, started, status=response.status_code, response=_text(response.content)
        )
        return response

    def raise_for(self, response: httpx.Response, what: str) -> None:
        """Raise the AdapterError a non-2xx answer means."""
        if response.is_success:
            return
        status = response.status_code
        detail = f"{self.erp} {what}: HTTP {status}: {self.error_detail(response)}"
        raise AdapterError(
            detail,
            retryable=status in RETRYABLE_STATUSES,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
            status=status,
            body=response.text[:4000],
        )

    def call(self, method: str, url: str, *, what: str = "", **kwargs: Any) -> httpx.Response:
        response = self.send(method, url, **kwargs)
        self.raise_for(response, what or f"{method} {url}")
        return response
