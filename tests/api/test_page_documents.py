"""The documents panel in real headless Chromium against a real server with an API key: a file
chosen in the upload control is sent with progress, indexed, listed and answered from; its title
(markup in it) stays text; its Delete button takes it out again. Screenshots at 1280 and 375 px go
to /tmp/shots/ for a person to look at."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api.test_documents import documents_server  # noqa: F401 (a fixture: this module's own server)
from tests.api.test_page import ask, browser, css, pwned, text_of, wait  # noqa: F401 (browser is a fixture)
from tests.servers import TEST_API_KEY

pytestmark = pytest.mark.integration

SHOTS = Path("/tmp/shots")
TITLE = 'Harbour lights of Kessmouth <img src=x onerror="window.__pwned=5"> and the keepers of the long watch'
TEXT = f"{TITLE}\n\nThe Kessmouth harbour light was first lit in 1888 by the keeper Mara Quist.\n"


def items(driver) -> list[str]:
    """The listed documents' titles, read in one script call: the page re-renders the list after a
    delete, and elements found one call earlier may be gone by the next (stale)."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('#documents-list li'),"
        " li => li.querySelector('.doc-title').textContent)"
    )


def test_upload_through_the_page_then_ask_then_delete(browser, documents_server, tmp_path):  # noqa: F811
    from selenium.webdriver.support import expected_conditions

    browser.get(documents_server.base_url + "/")
    browser.execute_script("sessionStorage.setItem('qa.apiKey', arguments[0])", TEST_API_KEY)
    browser.refresh()
    wait(browser, lambda d: len(items(d)) == 2)
    browser.get_log("browser")  # drained: the first load, before the key was set, was a 401
    before = items(browser)
    css(browser, "#documents-summary")[0].click()
    # Every line the status takes, to check that progress was shown.
    browser.execute_script(
        "window.__statuses = []; new MutationObserver(() => window.__statuses.push("
        "document.getElementById('upload-status').textContent)).observe("
        "document.getElementById('upload-status'), {childList: true, characterData: true, subtree: true});"
    )
    upload = tmp_path / "harbour-lights.txt"
    upload.write_text(TEXT, encoding="utf-8")
    css(browser, "#upload-file")[0].send_keys(str(upload))
    css(browser, "#upload-send")[0].click()
    wait(browser, lambda d: len(items(d)) == 3, timeout=120)
    status = text_of(css(browser, "#upload-status")[0])
    assert status.startswith("Added “Harbour lights of Kessmouth") and "chunk" in status
    seen = browser.execute_script("return window.__statuses")
    assert any(line.startswith("Uploading harbour-lights.txt") for line in seen), seen
    assert any(line.startswith(("Indexing", "Loading the new index")) for line in seen), seen

    # The title, markup and all, is text, shortened; the full title is its tooltip.
    added = next(li for li in css(browser, "#documents-list li") if "Harbour lights" in text_of(li))
    title = css(added, ".doc-title")[0]
    assert text_of(title).endswith("…") and title.get_attribute("title") == TITLE
    assert "1 section" in text_of(css(added, ".doc-meta")[0]) and "1 chunk" in text_of(css(added, ".doc-meta")[0])
    assert css(browser, "#documents img, #documents script") == [] and pwned(browser) is None
    SHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SHOTS / "documents-1280.png"))

    item = ask(browser, "When was the Kessmouth harbour light first lit?")
    assert "1888" in text_of(css(item, ".answer-text")[0])
    link = text_of(css(item, ".sources .source-link")[0])
    assert link.startswith("[1] Harbour lights of Kessmouth") and TITLE not in link and link.count("Harbour") == 1

    browser.set_window_size(375, 800)
    try:
        wait(browser, lambda d: d.execute_script("return window.innerWidth") <= 375)
        browser.execute_script("window.scrollTo(0, 0)")
        assert browser.execute_script("return document.documentElement.scrollWidth") <= 375 + 1
        browser.save_screenshot(str(SHOTS / "documents-375.png"))
    finally:
        browser.set_window_size(1280, 900)

    css(added, ".doc-delete")[0].click()
    wait(browser, expected_conditions.alert_is_present())
    browser.switch_to.alert.accept()
    wait(browser, lambda d: items(d) == before, timeout=120)
    assert text_of(css(browser, "#upload-status")[0]).startswith("Deleted “Harbour lights of Kessmouth")
    assert "harbour-lights.txt" not in [p.name for p in Path(documents_server.settings.corpus_dir).iterdir()]
    errors = [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []
