"""API kernel: one error body for every error.

Every error answer of `/api/` is `{"code": ..., "detail": ...}` (plus `"errors"` for invalid
input, by field), with the status below. A terminal or an ERP adapter shows `detail` and
branches on `code`, never on the wording.

| cause                                              | status | code                         |
|----------------------------------------------------|--------|------------------------------|
| a `DomainError` from a service                     | its own (400/403/404/409) | its own  |
| DRF or Django validation (`serializers.ValidationError`, model `full_clean`) | 400 | `invalid_input` + `errors` |
| malformed JSON                                     | 400    | `parse_error`                |
| no or bad credentials                              | 401    | `not_authenticated` / `authentication_failed` |
| authenticated but not allowed                      | 403    | `permission_denied`          |
| no such record (or outside the user's scope)       | 404    | `not_found`                  |
| method not offered (e.g. DELETE on a GMP record)   | 405    | `method_not_allowed`         |
| a database constraint lost a race / a protected reference | 409 | `conflict`              |
| anything else                                      | 500    | `server_error` (logged, with the request id) |
"""

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.signals import got_request_exception
from django.db import IntegrityError
from django.db.models import ProtectedError, RestrictedError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from mes.exceptions import DomainError

logger = logging.getLogger("mes.api")

CONFLICT_DETAIL = (
    "The change conflicts with the current data (another user or terminal may have changed it "
    "a moment ago). Reload and try again."
)


def error_body(code: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"code": code, "detail": detail, **extra}


def _first_message(errors: Any) -> str:
    """The first message of a DRF error structure, prefixed with its field."""
    if isinstance(errors, dict):
        for field, value in errors.items():
            message = _first_message(value)
            if message:
                return (
                    message if field in ("non_field_errors", "__all__") else f"{field}: {message}"
                )
        return ""
    if isinstance(errors, list):
        for value in errors:
            message = _first_message(value)
            if message:
                return message
        return ""
    return str(errors)


def _validation_response(errors: Any) -> Response:
    if not isinstance(errors, dict):
        errors = {"non_field_errors": errors if isinstance(errors, list) else [errors]}
    first = _first_message(errors)
    detail = f"Invalid input: {first}" if first else "Invalid input."
    return Response(
        error_body("invalid_input", detail, errors=errors), status=status.HTTP_400_BAD_REQUEST
    )


def _django_validation_errors(exc: DjangoValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {
            ("non_field_errors" if field == "__all__" else field): messages
            for field, messages in exc.message_dict.items()
        }
    return {"non_field_errors": list(exc.messages)}


def _server_error(exc: Exception, context: dict[str, Any]) -> Response | None:
    request = context.get("request")
    django_request = getattr(request, "_request", request)
    if settings.DEBUG:
        return None  # the debug page with its traceback
    request_id = getattr(django_request, "request_id", "")
    logger.error(
        "Internal Server Error: %s (request %s)",
        getattr(django_request, "path", "?"),
        request_id,
        exc_info=exc,
    )
    # What Django does for an unhandled exception: error reporters (and the test client,
    # which re-raises it) hear about it.
    got_request_exception.send(sender=None, request=django_request)
    reference = f" Reference: {request_id}." if request_id else ""
    return Response(
        error_body("server_error", f"Internal error: the request was not completed.{reference}"),
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """REST_FRAMEWORK["EXCEPTION_HANDLER"]."""
    if isinstance(exc, DomainError):
        set_rollback()
        return Response(error_body(exc.code, exc.detail), status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        set_rollback()
        return _validation_response(_django_validation_errors(exc))
    if isinstance(exc, IntegrityError | ProtectedError | RestrictedError):
        set_rollback()
        logger.warning("API conflict: %s", exc)
        return Response(error_body("conflict", CONFLICT_DETAIL), status=status.HTTP_409_CONFLICT)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)  # sets WWW-Authenticate, Retry-After
    if response is None:
        return _server_error(exc, context)
    if isinstance(exc, exceptions.ValidationError):
        validation = _validation_response(exc.detail)
        response.data = validation.data
        response.status_code = validation.status_code
        return response
    if isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else exc.default_code
        detail = exc.detail if isinstance(exc.detail, str) else _first_message(exc.detail)
        response.data = error_body(str(code), str(detail))
    return response
