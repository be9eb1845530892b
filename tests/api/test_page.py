"""The chat page in real headless Chromium against a real server: streamed answers, [n] links that
open the quoted passage, follow-ups, abstention, hostile markup shown as text, keyboard use, a
375px screen and the API-key form."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rag.citations import short_title
from tests.api.conftest import TEST_API_KEY

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT_S = 30
TROOPS = "How many American troops are stationed in South Korea?"
# Where the page tests leave their screenshots, for a person to look at (not compared by tests).
SCREENSHOTS = Path(__file__).parents[2] / "eval-out" / "screenshots"
HOSTILE_QUESTION = '<img src=x onerror="window.__pwned=3"><script>window.__pwned=4</script>'


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip(f"needs Debian's chromium and chromium-driver ({CHROMIUM}, {CHROMEDRIVER})")
    from selenium import webdriver

    profile = tmp_path_factory.mktemp("chromium-profile")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # CSP violations show up there
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    driver.set_window_size(1280, 900)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


# --- helpers ---------------------------------------------------------------------------------


def wait(driver, condition, timeout: float = WAIT_S):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(condition)


def css(scope, selector):
    from selenium.webdriver.common.by import By

    return scope.find_elements(By.CSS_SELECTOR, selector)


def open_page(driver, server):
    driver.get(server.base_url + "/")
    wait(driver, lambda d: css(d, "#question"))


def answers(driver):
    return css(driver, "#messages li.message.assistant")


def finished(item) -> bool:
    classes = item.get_attribute("class").split()
    return "abstained" in classes or "failed" in classes or bool(css(item, ".sources"))


def wait_answer(driver, count_before: int):
    """The next assistant message, once it has its citations (or abstained, or failed)."""
    wait(driver, lambda d: len(answers(d)) > count_before and finished(answers(d)[-1]))
    return answers(driver)[-1]


def ask(driver, question: str):
    from selenium.webdriver.common.keys import Keys

    before = len(answers(driver))
    box = css(driver, "#question")[0]
    box.send_keys(question)
    box.send_keys(Keys.ENTER)
    return wait_answer(driver, before)


def text_of(element) -> str:
    return element.get_attribute("textContent")


def cite_button(item, n: int = 1):
    buttons = [b for b in css(item, ".answer-text button.cite") if b.text == f"[{n}]"]
    assert buttons, f"no [{n}] button in the answer: {text_of(item)!r}"
    return buttons[0]


def wait_passage(driver):
    """The <mark> in the open source panel, once the source text has arrived."""
    wait(driver, lambda d: css(d, "#source-panel")[0].is_displayed() and css(d, "#panel-passage mark"))
    return css(driver, "#panel-passage mark")[0]


def api_ask(server, question: str, history: list | None = None, key: str | None = None) -> dict:
    """The same question straight to the API, read as server-sent events."""
    import httpx

    headers = {"Authorization": f"Bearer {key}"} if key else {}
    text, final = "", None
    with httpx.stream(
        "POST",
        server.base_url + "/v1/ask/stream",
        json={"question": question, "history": history or []},
        headers=headers,
        timeout=60,
    ) as response:
        assert response.status_code == 200, response.read()
        event = None
        for line in response.iter_lines():
            if line.startswith("event:"):
                event = line[len("event:") :].strip()
            elif line.startswith("data:"):
                data = json.loads(line[len("data:") :])
                if event == "delta":
                    text += data["text"]
                elif event == "citations":
                    final = data
    assert final is not None, "the stream had no citations event"
    return {"answer": text, **final}


def plural_facts(source: dict) -> str:
    """What the documents panel says of a source after its kind: sections and chunks, counted."""
    sections, chunks = len(source["sections"]), source["chunks"]
    return f"{sections} section{'s' * (sections != 1)} · {chunks} chunk{'s' * (chunks != 1)}"


def pwned(driver):
    return driver.execute_script("return window.__pwned")


# --- tests -----------------------------------------------------------------------------------


def test_answer_streams_with_a_citation_that_opens_the_marked_passage(browser, live_server):
    open_page(browser, live_server)
    item = ask(browser, TROOPS)
    assert "28,000" in text_of(css(item, ".answer-text")[0])
    # The short answer leads, with a button to the source it stands in.
    short = css(item, ".short-answer")[0]
    assert "28,000" in text_of(css(short, "strong")[0]) and css(short, "button.cite")

    expected = next(c for c in api_ask(live_server, TROOPS)["citations"] if c["n"] == 1)
    cite_button(item, 1).click()
    mark = wait_passage(browser)
    assert text_of(mark) == expected["quote"]
    assert text_of(css(browser, "#panel-title")[0]) == expected["title"]
    assert expected["section"] in text_of(css(browser, "#panel-meta")[0])
    passage = text_of(css(browser, "#panel-passage")[0])
    assert len(passage) > len(expected["quote"]) + 200, "the quote should come with its context"

    # The Sources list under the answer opens the same passage.
    browser.execute_script("document.getElementById('panel-close').click()")
    assert not css(browser, "#source-panel")[0].is_displayed()
    source_link = css(item, ".sources .source-link")[0]
    # By short title and section (said once when it is the title), not the long title.
    assert source_link.text.startswith(f"[1] {short_title(expected['title'])}")
    assert expected["section"] in source_link.text and source_link.text.count(expected["section"]) == 1
    source_link.click()
    assert text_of(wait_passage(browser)) == expected["quote"]

    # Nothing the page does is blocked by its own Content-Security-Policy, nothing failed to load.
    errors = [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []


def test_follow_up_sends_the_conversation_and_answers_in_context(browser, live_server):
    open_page(browser, live_server)
    # Record what the page sends, to check that the follow-up carries the first turn.
    browser.execute_script("""
        window.__sent = [];
        const original = window.fetch;
        window.fetch = (url, init) => {
          if (init && init.body) window.__sent.push(JSON.parse(init.body));
          return original(url, init);
        };""")
    first = ask(browser, "What is the South Korean model?")
    assert css(first, ".answer-text button.cite")
    second = ask(browser, "How many US troops are there?")
    assert "28,000" in text_of(css(second, ".answer-text")[0])

    sent = browser.execute_script("return window.__sent")
    assert [s["question"] for s in sent] == ["What is the South Korean model?", "How many US troops are there?"]
    assert sent[0]["history"] == []
    assert sent[1]["history"] == [
        {"role": "user", "content": "What is the South Korean model?"},
        {"role": "assistant", "content": text_of(css(first, ".answer-text")[0])},
    ]


def test_hostile_markup_in_questions_and_sources_stays_text(browser, live_server):
    open_page(browser, live_server)
    ask(browser, HOSTILE_QUESTION)
    bubbles = [text_of(b) for b in css(browser, "#messages li.message.user .bubble")]
    assert bubbles == [HOSTILE_QUESTION]
    assert pwned(browser) is None
    assert css(browser, "#messages img, #messages script") == []

    item = ask(browser, "When did the Winter War begin according to the test document?")
    assert "1939" in text_of(item)
    cite_button(item, 1).click()
    wait_passage(browser)
    passage = text_of(css(browser, "#panel-passage")[0])
    assert "<script>window.__pwned = 1</script>" in passage
    assert '<img src=x onerror="window.__pwned=2">' in passage
    assert css(browser, "#source-panel img, #source-panel script, #messages img, #messages script") == []
    assert pwned(browser) is None


def test_off_topic_question_is_shown_as_an_abstention(browser, live_server):
    open_page(browser, live_server)
    item = ask(browser, "What is a good pancake recipe?")
    assert "abstained" in item.get_attribute("class").split()
    assert "Not in the sources" in item.text
    assert css(item, "button.cite, .sources") == []


def test_keyboard_only_ask_open_and_close_a_source(browser, live_server):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    open_page(browser, live_server)
    keys = ActionChains(browser)
    active = lambda: browser.switch_to.active_element  # noqa: E731

    wait(browser, lambda d: css(d, "#documents-list li"))
    keys.send_keys(Keys.TAB).perform()
    assert active().get_attribute("id") == "documents-summary"  # the list of documents opens by keyboard
    examples = css(browser, "#examples-list button")
    for example in examples:  # then the example questions, then the question box
        keys.send_keys(Keys.TAB).perform()
        assert active() == example
    keys.send_keys(Keys.TAB).perform()
    assert active().get_attribute("id") == "question"
    before = len(answers(browser))
    keys.send_keys(TROOPS).send_keys(Keys.ENTER).perform()
    item = wait_answer(browser, before)

    for _ in range(12):  # back from the textarea, through the Sources list, to the [1] in the answer
        if active().get_attribute("class") == "cite" and active().text == "[1]":
            break
        keys.key_down(Keys.SHIFT).send_keys(Keys.TAB).key_up(Keys.SHIFT).perform()
    link = active()
    assert link.text == "[1]" and link == cite_button(item, 1)
    assert browser.execute_script("return getComputedStyle(document.activeElement).outlineStyle") != "none"

    keys.send_keys(Keys.ENTER).perform()
    wait_passage(browser)
    assert browser.execute_script("return document.getElementById('source-panel').contains(document.activeElement)")

    keys.send_keys(Keys.ESCAPE).perform()
    wait(browser, lambda d: not css(d, "#source-panel")[0].is_displayed())
    assert active() == link


def test_narrow_screen_has_no_horizontal_scrolling(browser, live_server):
    open_page(browser, live_server)
    browser.set_window_size(375, 800)
    try:
        wait(browser, lambda d: d.execute_script("return window.innerWidth") <= 375)
        item = ask(browser, "Why does the issue of security guarantees divide EU Member States?")
        citations = css(item, ".answer-text button.cite")
        assert citations, "expected a cited answer"
        longest = 0
        for citation in citations:  # every passage opened, the longest quote among them
            citation.click()
            mark = wait_passage(browser)
            longest = max(longest, len(text_of(mark)))
            width = browser.execute_script("return document.documentElement.scrollWidth")
            assert width <= 375 + 1
        assert longest > 300, "the test wants a long citation"
        # The source opens over the chat, not below the question box, with its quote in view.
        covers = browser.execute_script(
            "const r = document.getElementById('source-panel').getBoundingClientRect();"
            "const v = document.documentElement;"
            "return r.top <= 0 && r.left <= 0 && r.width >= v.clientWidth - 1 && r.height >= v.clientHeight - 1;"
        )
        assert covers, "the source panel should cover the screen on a phone"
        wait(
            browser,
            lambda d: d.execute_script(
                "const r = document.querySelector('#panel-passage mark').getBoundingClientRect();"
                "return r.bottom > 0 && r.top < innerHeight;"
            ),
        )
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(SCREENSHOTS / "page-375.png"))
    finally:
        browser.set_window_size(1280, 900)


def test_api_key_is_asked_once_and_kept_for_the_tab(browser, live_server_with_key):
    from selenium.webdriver.common.keys import Keys

    open_page(browser, live_server_with_key)
    key_form = lambda: css(browser, "#key-form")[0]  # noqa: E731
    assert not key_form().is_displayed()
    assert not css(browser, "#documents")[0].is_displayed()  # the list needs the key too

    item = ask(browser, TROOPS)
    assert "failed" in item.get_attribute("class").split()
    wait(browser, lambda d: key_form().is_displayed())
    assert browser.switch_to.active_element.get_attribute("id") == "key-input"

    # A wrong key is refused and asked for again.
    css(browser, "#key-input")[0].send_keys("not-the-key", Keys.ENTER)
    wait(browser, lambda d: key_form().is_displayed() and "not accepted" in css(d, "#key-help")[0].text)

    css(browser, "#key-input")[0].send_keys(TEST_API_KEY, Keys.ENTER)
    wait(browser, lambda d: "28,000" in text_of(css(d, "#messages li.message.assistant .answer-text")[-1]))
    wait(browser, lambda d: len(css(d, "#documents-list li")) == 2)
    assert not key_form().is_displayed()
    assert len(answers(browser)) == 1, "the retry answers in the same message"

    browser.refresh()
    wait(browser, lambda d: css(d, "#question"))
    item = ask(browser, TROOPS)
    assert "28,000" in text_of(css(item, ".answer-text")[0])
    assert not key_form().is_displayed()
    assert browser.execute_script("return sessionStorage.length") == 1


def test_refused_question_shows_the_error_and_keeps_the_input(browser, live_server):
    from selenium.webdriver.common.keys import Keys

    open_page(browser, live_server)
    too_long = "Why? " * 500  # over QA_MAX_QUESTION_CHARS (2000)
    box = css(browser, "#question")[0]
    browser.execute_script("arguments[0].value = arguments[1]", box, too_long)
    before = len(answers(browser))
    box.send_keys(Keys.ENTER)
    item = wait_answer(browser, before)
    assert "failed" in item.get_attribute("class").split()
    assert "2000" in css(item, ".status")[0].text
    assert box.get_attribute("value") == too_long.strip()


def test_the_page_lists_the_documents_in_the_index_as_text(browser, live_server):
    import httpx

    open_page(browser, live_server)
    sources = httpx.get(f"{live_server.base_url}/v1/sources", timeout=10).json()["sources"]
    wait(browser, lambda d: len(css(d, "#documents-list li")) == len(sources))
    titles = [text_of(css(li, ".doc-title")[0]) for li in css(browser, "#documents-list li")]
    assert titles == [s["short_title"] for s in sources]
    metas = [text_of(css(li, ".doc-meta")[0]) for li in css(browser, "#documents-list li")]
    assert metas == [f"{s['kind']} · " * bool(s["kind"]) + plural_facts(s) for s in sources]
    assert text_of(css(browser, "#documents-summary")[0]) == f"{len(sources)} documents in the index"
    assert css(browser, "#documents-list img, #documents-list script") == []


def test_example_questions_come_from_the_documents_section_headings(browser, live_server):
    import httpx

    open_page(browser, live_server)
    css(browser, "#new-chat")[0].click()
    sources = httpx.get(f"{live_server.base_url}/v1/sources", timeout=10).json()["sources"]
    headings = [h.lower() for s in sources for h in s["sections"] if h != s["title"]]
    wait(browser, lambda d: css(d, "#examples")[0].is_displayed() and css(d, "#examples-list button"))
    buttons = css(browser, "#examples-list button")
    assert 1 <= len(buttons) <= 3
    prefix = "What do the sources say about "
    for button in buttons:
        question = text_of(button)
        assert question.startswith(prefix) and question.endswith("?")
        topic = question[len(prefix) : -1].lower()
        assert any(topic in heading for heading in headings), f"{topic!r} is no section heading"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / "page-1280-empty.png"))
    before = len(answers(browser))
    first = text_of(buttons[0])
    buttons[0].click()
    item = wait_answer(browser, before)
    assert text_of(css(browser, "#messages li.message.user")[-1]).endswith(first)
    assert not css(browser, "#examples")[0].is_displayed()
    assert "abstained" not in item.get_attribute("class").split(), "a heading's topic should be answered"
    css(browser, "#new-chat")[0].click()
    wait(browser, lambda d: css(d, "#examples")[0].is_displayed())


def test_copy_puts_the_answer_and_its_quoted_sources_on_the_clipboard(browser, live_server):
    open_page(browser, live_server)
    browser.execute_cdp_cmd(
        "Browser.grantPermissions",
        {"origin": live_server.base_url, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]},
    )
    item = ask(browser, TROOPS)
    expected = api_ask(live_server, TROOPS)
    css(item, "button.copy")[0].click()
    wait(browser, lambda d: text_of(css(item, ".copy-status")[0]) == "Copied")
    copied = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "navigator.clipboard.readText().then(done, (e) => done('ERROR ' + e));"
    )
    assert not copied.startswith("ERROR"), copied
    assert expected["answer"].strip() in copied
    for citation in expected["citations"]:
        assert f"[{citation['n']}] " in copied and f"“{citation['quote']}”" in copied
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / "page-1280-answer.png"))


def test_the_short_answer_is_marked_inside_the_cited_passage(browser, live_server):
    open_page(browser, live_server)
    expected = api_ask(live_server, TROOPS)["short_answer"]
    assert expected is not None, "the test wants a question with a short answer"
    item = ask(browser, TROOPS)
    lead = css(item, ".short-answer")[0]
    assert text_of(css(lead, "strong")[0]) == expected["text"]
    css(lead, "button.cite")[0].click()
    mark = wait_passage(browser)
    spans = css(mark, "strong.answer-span")
    assert [text_of(s) for s in spans] == [expected["text"]]
    quote = next(c["quote"] for c in api_ask(live_server, TROOPS)["citations"] if c["n"] == expected["n"])
    assert text_of(mark) == quote  # the quote itself is unchanged around the marked span


def test_each_item_of_a_short_list_leads_and_is_marked_in_the_passage(browser, live_server):
    question = "Which countries outside Europe are among the 26 ready to guarantee Ukraine's security?"
    open_page(browser, live_server)
    expected = api_ask(live_server, question)["short_list"]
    assert len(expected) >= 2, "the test wants a question with a short list"
    item = ask(browser, question)
    lead = css(item, ".short-answer")[0]
    assert [text_of(s) for s in css(lead, "strong")] == [span["text"] for span in expected]
    css(lead, "button.cite")[0].click()
    mark = wait_passage(browser)
    first = expected[0]["n"]
    marked = [span["text"] for span in expected if span["n"] == first]
    assert [text_of(s) for s in css(mark, "strong.answer-span")] == marked
