"""The dashboard and /docs in chromium under the service's Content Security Policy.

Every page, every view, draws with no CSP violation (the browser reports each one as a
``securitypolicyviolation`` event and a console error), loads nothing from elsewhere,
and /docs authorizes with a token and runs "Try it out" against the service.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.web.conftest import Service

pytest.importorskip("playwright", reason="the dashboard tests need Playwright for Python")
from playwright.sync_api import Page, expect
from tests.web.test_dashboard import TIMEOUT_MS, open_dashboard, show

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestRemovedIn10Warning")

RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  const where = `${e.sourceFile}:${e.lineNumber}`;
  window.__violations.push(`${e.violatedDirective} ${e.blockedURI} ${where}`);
});
"""


def watch(page: Page, service: Service) -> dict[str, list[str]]:
    """Record the page's CSP violations, console errors and requests elsewhere."""
    seen: dict[str, list[str]] = {"console": [], "elsewhere": []}
    page.add_init_script(RECORD_VIOLATIONS)

    def console(message: Any) -> None:
        if "Content Security Policy" in message.text or message.type == "error":
            seen["console"].append(message.text)

    page.on("console", console)
    page.on(
        "request",
        lambda r: (
            None
            if r.url.startswith((service.base_url + "/", "data:"))
            else seen["elsewhere"].append(r.url)
        ),
    )
    return seen


def violations(page: Page) -> list[str]:
    return list(page.evaluate("window.__violations || []"))


def test_every_view_of_the_dashboard_draws_under_the_csp(page: Page, service: Service) -> None:
    seen = watch(page, service)
    answer = page.request.get(service.base_url + "/")
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    open_dashboard(page, service, service.viewers["esa"], "map")
    expect(page.locator("#map path.station").first).to_be_attached()
    for view in ("timeline", "passes", "fairness", "operations", "archive", "design", "map"):
        show(page, view)
    page.locator("#timeline .vis-item.contact").first.wait_for(state="attached")
    found = violations(page)
    assert found == [], "\n".join(sorted(set(found)))
    assert [m for m in seen["console"] if "Content Security Policy" in m] == []
    assert seen["elsewhere"] == []


def test_docs_authorizes_and_tries_an_operation_under_the_csp(page: Page, service: Service) -> None:
    seen = watch(page, service)
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{service.base_url}/docs")
    authorize = page.locator("button.authorize").first
    expect(authorize).to_be_visible()
    authorize.click()
    page.locator(".auth-container input").first.fill(service.viewers["esa"])
    page.locator(".auth-btn-wrapper button.authorize").first.click()
    page.locator(".auth-btn-wrapper button.btn-done").first.click()
    operation = page.locator("#operations-me-read_me_api_v1_me_get")
    operation.locator(".opblock-summary").click()
    operation.locator("button.try-out__btn").click()
    operation.locator("button.execute").click()
    expect(
        operation.locator(".live-responses-table tbody .response-col_status").first
    ).to_have_text("200")
    assert "esa-viewer" in operation.locator(".live-responses-table").inner_text()
    found = violations(page)
    assert found == [], "\n".join(sorted(set(found)))
    assert [m for m in seen["console"] if "Content Security Policy" in m] == []
    assert seen["elsewhere"] == []
