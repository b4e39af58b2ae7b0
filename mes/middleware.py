"""A refusal by a rule of the plant, raised from a page, becomes a page that says so.

Views normally catch `DomainError` and show it next to the form. Whatever they let through is
rendered here, in the shell's layout, with the error's status (400/403/404/409): the terminal
never shows a stack trace for a refusal. An HTMX request gets the message as a fragment,
retargeted to the page's message area (see static/mes/mes.js).

API views never reach this: DRF's exception handler (mes.api.exception_handler) answers first.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

from mes.exceptions import DomainError

ERROR_TEMPLATES = {400: "400.html", 403: "403.html", 404: "404.html", 409: "409.html"}


class DomainErrorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, DomainError):
            return None
        status = exception.status_code
        context = {"detail": exception.detail, "code": exception.code, "status": status}
        if getattr(request, "htmx", False):
            body = render_to_string("mes/partials/_refusal.html", context, request=request)
            response = HttpResponse(body, status=status)
            response["HX-Retarget"] = "#messages"
            response["HX-Reswap"] = "innerHTML"
            return response
        template = ERROR_TEMPLATES.get(status, "400.html")
        return HttpResponse(render_to_string(template, context, request=request), status=status)
