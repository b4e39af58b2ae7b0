"""Opens an audit context for every request: the request id and the (lazily resolved) user."""

import re
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from mes.audit.context import audit_context

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class AuditContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        supplied = request.headers.get("X-Request-ID", "")
        request_id = supplied if _REQUEST_ID.match(supplied) else uuid.uuid4().hex
        reason = request.headers.get("X-Change-Reason", "")[:500]
        request.request_id = request_id  # type: ignore[attr-defined]
        with audit_context(request=request, request_id=request_id, reason=reason):
            response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response
