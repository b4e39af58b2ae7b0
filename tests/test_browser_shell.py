"""The shop-floor shell in a real browser (headless Chromium): login, home per role, the
scanner box, messages, touch-target sizes.

This module is also the URLconf of its tests (`@pytest.mark.urls(__name__)`): it adds a page
with an HTMX button whose action is refused, next to the real project URLs.
"""

import time

import pytest
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseRedirect
from django.template import engines
from django.urls import path

from mes.exceptions import Conflict
from mes.registry import register_scan_resolver, unregister_scan_resolver
from mes.urls import urlpatterns as project_urlpatterns
from tests.browser import login

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.urls(__name__),
]

SCREENSHOT = "/tmp/mes-operator-home.png"  # noqa: S108

HTMX_PAGE = """{% extends "base.html" %}{% block content %}
<h1>Release</h1>
<button class="btn btn-primary" hx-post="/test/htmx-refuse/" hx-target="#result">Release batch B-7</button>
<div id="result"></div>
{% endblock %}"""


@login_required
def htmx_page(request):
    return HttpResponse(engines["django"].from_string(HTMX_PAGE).render({}, request))


@login_required
def htmx_refuse(request):
    raise Conflict("Batch B-7 is already released.")


ONCE_PAGE = """{% extends "base.html" %}{% block content %}
<form method="post" action="/test/once/">{% csrf_token %}
<button class="btn btn-primary" type="submit">Complete step</button></form>
{% endblock %}"""
once_posts: list[str] = []


@login_required
def once(request):
    if request.method == "POST":
        once_posts.append(request.user.username)
        time.sleep(0.5)  # a slow service: a second tap lands while this one runs
        return HttpResponseRedirect("/")
    return HttpResponse(engines["django"].from_string(ONCE_PAGE).render({}, request))


urlpatterns = [
    path("test/htmx/", htmx_page),
    path("test/htmx-refuse/", htmx_refuse),
    path("test/once/", once),
    *project_urlpatterns,
]


def box(page, selector):
    return page.locator(selector).first.bounding_box()


def test_operator_logs_in_and_sees_the_terminal_home(browser_page, live_server, operator):
    page = browser_page
    login(page, live_server.url, "olivia.operator")
    assert page.url == f"{live_server.url}/"
    assert page.locator("h1.home-heading").inner_text() == "My work"
    assert page.locator(".who-name").inner_text() == "Olivia Operator"
    assert page.locator(".who-roles .role").all_inner_texts() == ["Operator"]
    # the "not for GMP use" banner: on the embedded SQLite only
    banners = page.locator("[data-testid=db-banner]")
    assert banners.count() == (0 if settings.MES_DATABASE_IS_GMP_GRADE else 1)
    assert page.locator("body").get_attribute("class") == "terminal"
    # the scanner box has the focus, ready for the first scan
    assert page.evaluate("document.activeElement.id") == "scan-code"
    # the clock ticks in the browser (Intl, plant time zone)
    assert page.locator("[data-clock-date]").inner_text().endswith("· UTC")
    page.screenshot(path=SCREENSHOT, full_page=True)


def test_touch_targets_are_large_enough_for_gloves(browser_page, live_server, operator):
    page = browser_page
    login(page, live_server.url, "olivia.operator")
    scan_input, open_button = box(page, "#scan-code"), box(page, ".scan .btn-primary")
    logout = box(page, ".logout .btn")
    assert scan_input["height"] >= 64
    assert open_button["height"] >= 64
    assert open_button["width"] >= 64
    assert logout["height"] >= 56
    body_px = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
    assert body_px >= 20


def test_qa_logs_in_and_sees_the_review_queue(qa_user, browser_page, live_server):
    page = browser_page
    login(page, live_server.url, "quinn.qa")
    assert page.locator("h1.home-heading").inner_text() == "Review queue"
    assert page.locator(".who-name").inner_text() == "Quinn QA"
    assert page.locator("[data-scan]").count() == 0
    assert page.locator("body").get_attribute("class") == ""


def test_wrong_password_shows_an_error(browser_page, live_server, operator):
    page = browser_page
    login(page, live_server.url, "olivia.operator", password="not-the-password")
    assert page.url.startswith(f"{live_server.url}/login/")
    error = page.locator("[role=alert] .errorlist")
    assert error.is_visible()
    assert "correct" in error.inner_text().lower()
    assert page.locator(".who-name").count() == 0


def test_scanner_types_then_enter_and_the_code_opens_its_record(
    browser_page, live_server, operator
):
    register_scan_resolver(
        "test.lot", lambda code, user: "/api/docs/" if code == "LOT-0001" else None
    )
    try:
        page = browser_page
        login(page, live_server.url, "olivia.operator")
        # a tap somewhere on the page does not lose the scan focus
        page.click("h1.home-heading")
        page.wait_for_function(
            "document.activeElement && document.activeElement.id === 'scan-code'"
        )
        # a scanner is a keyboard: characters, then Enter
        with page.expect_navigation():
            page.keyboard.type("LOT-0001")
            page.keyboard.press("Enter")
        assert page.url == f"{live_server.url}/api/docs/"
    finally:
        unregister_scan_resolver("test.lot")


def test_unknown_scan_shows_an_error_and_keeps_the_focus(browser_page, live_server, operator):
    page = browser_page
    login(page, live_server.url, "olivia.operator")
    with page.expect_navigation():
        page.keyboard.type("NOPE-42")
        page.keyboard.press("Enter")
    message = page.locator("#messages .msg-error")
    assert message.inner_text() == (
        "“NOPE-42” is not a batch, work order, lot or unit you can open here. "
        "Check the label and scan again."
    )
    assert page.evaluate("document.activeElement.id") == "scan-code"


def test_htmx_refusal_is_shown_in_the_message_area(browser_page, live_server, operator):
    page = browser_page
    login(page, live_server.url, "olivia.operator")
    page.goto(f"{live_server.url}/test/htmx/")
    page.click("text=Release batch B-7")
    message = page.locator("#messages .msg-error")
    message.wait_for()
    assert message.inner_text() == "Refused: Batch B-7 is already released."
    assert page.locator("#result").inner_html() == ""


def test_a_double_tap_submits_a_form_once(browser_page, live_server, operator):
    page = browser_page
    login(page, live_server.url, "olivia.operator")
    page.goto(f"{live_server.url}/test/once/")
    once_posts.clear()
    # the first request is on its way (the service takes 0.5 s) when the glove taps again
    page.evaluate(
        """() => {
            const button = document.querySelector("form[action='/test/once/'] button");
            button.click();
            setTimeout(() => button.click(), 150);
        }"""
    )
    page.wait_for_url(f"{live_server.url}/")
    page.wait_for_timeout(700)  # time for a second request to arrive, if one was sent
    assert once_posts == ["olivia.operator"]
