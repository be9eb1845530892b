// The chat page: streams answers from POST /v1/ask/stream, turns [n] markers into buttons that
// open the cited passage (from GET /v1/sources/{id}) with the quote marked.
// Every piece of text from the user, the answer or a document goes in through textContent or
// text nodes, never innerHTML: the sources are untrusted and may contain markup.
"use strict";

(() => {
  const KEY_STORAGE = "qa.apiKey";
  const MAX_HISTORY = 20; // turns; the server's default QA_MAX_HISTORY_TURNS
  const CONTEXT_CHARS = 300;
  const ABSTAINED_LABEL = "Not in the sources";
  const MAX_EXAMPLES = 3;

  const $ = (id) => document.getElementById(id);
  const messages = $("messages");
  const askForm = $("ask-form");
  const questionInput = $("question");
  const sendButton = $("send");
  const keyForm = $("key-form");
  const keyInput = $("key-input");
  const keyHelp = $("key-help");
  const panel = $("source-panel");

  const history = [];
  const sources = new Map(); // source_id -> Promise<{title, text, ...}>
  let busy = false;
  let afterKey = null; // what to retry once the user has entered an API key
  let panelOpener = null;

  class HttpError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // --- API -----------------------------------------------------------------------------------

  function apiFetch(path, init = {}) {
    const headers = new Headers(init.headers || {});
    const key = sessionStorage.getItem(KEY_STORAGE);
    if (key) headers.set("Authorization", `Bearer ${key}`);
    return fetch(path, { ...init, headers });
  }

  async function raiseForStatus(response) {
    if (response.ok) return;
    let message = `${response.status} ${response.statusText}`.trim();
    try {
      const body = await response.json();
      if (body && body.error && body.error.message) message = String(body.error.message);
      else if (body && typeof body.detail === "string") message = body.detail;
    } catch (_) {
      // not JSON: keep the status line
    }
    throw new HttpError(response.status, message);
  }

  // Parses a text/event-stream body; calls onEvent(name, parsedData) for each event.
  async function readEvents(response, onEvent) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    const dispatch = (block) => {
      let name = "message";
      const data = [];
      for (const line of block.split(/\r\n|\r|\n/)) {
        if (!line || line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon === -1 ? line : line.slice(0, colon);
        let value = colon === -1 ? "" : line.slice(colon + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        if (field === "event") name = value;
        else if (field === "data") data.push(value);
      }
      if (!data.length) return;
      let parsed;
      try {
        parsed = JSON.parse(data.join("\n"));
      } catch (_) {
        throw new Error(`The server sent an unreadable ${name} event.`);
      }
      onEvent(name, parsed);
    };
    for (;;) {
      const { value, done } = await reader.read();
      buffer += decoder.decode(value || new Uint8Array(), { stream: !done });
      const blocks = buffer.split(/\r\n\r\n|\n\n|\r\r/);
      buffer = blocks.pop();
      blocks.forEach(dispatch);
      if (done) break;
    }
    if (buffer.trim()) dispatch(buffer);
  }

  function getSource(sourceId) {
    if (!sources.has(sourceId)) {
      const path = sourceId.split("/").map(encodeURIComponent).join("/");
      const pending = apiFetch(`/v1/sources/${path}`).then(async (response) => {
        await raiseForStatus(response);
        return response.json();
      });
      pending.catch(() => sources.delete(sourceId)); // a failure is not cached
      sources.set(sourceId, pending);
    }
    return sources.get(sourceId);
  }

  // --- API key ---------------------------------------------------------------------------------

  function askForKey(retry) {
    const hadKey = sessionStorage.getItem(KEY_STORAGE) !== null;
    sessionStorage.removeItem(KEY_STORAGE);
    afterKey = retry;
    keyHelp.textContent = hadKey
      ? "That API key was not accepted. Enter the right one; it is kept only for this browser tab."
      : "This server needs an API key. It is kept only for this browser tab.";
    keyForm.hidden = false;
    keyInput.value = "";
    keyInput.focus();
  }

  keyForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const key = keyInput.value.trim();
    if (!key) return;
    sessionStorage.setItem(KEY_STORAGE, key);
    keyInput.value = "";
    keyForm.hidden = true;
    document.dispatchEvent(new Event("qa:key"));
    const retry = afterKey;
    afterKey = null;
    questionInput.focus();
    if (retry) retry();
  });

  // --- Chat ------------------------------------------------------------------------------------

  function scrollToEnd(node) {
    node.scrollIntoView({ block: "nearest" });
  }

  function addUserMessage(question) {
    const item = el("li", "message user");
    item.append(el("span", "visually-hidden", "You asked: "));
    item.append(el("p", "bubble", question));
    messages.append(item);
    return item;
  }

  function addAnswerMessage() {
    const item = el("li", "message assistant");
    item.append(el("span", "visually-hidden", "Answer: "));
    const bubble = el("div", "bubble");
    const text = el("p", "answer-text");
    const status = el("p", "status", "Searching the sources…");
    bubble.append(text, status);
    item.append(bubble);
    messages.append(item);
    return { item, bubble, text, status };
  }

  // The API's rule (rag/citations.py short_title): a title over 60 characters is cut at a word.
  function shortTitle(title) {
    const text = String(title || "");
    if (text.length <= 60) return text;
    return text.slice(0, 60).replace(/\s+\S*$/, "").replace(/[\s,;:—-]+$/, "") + "…";
  }

  // Short title, then the section unless it is the title again, then the page.
  function citationLabel(citation) {
    const title = shortTitle(citation.title) || citation.source_id;
    const section = citation.section && citation.section !== citation.title ? ` — ${citation.section}` : "";
    const page = citation.page != null ? `, page ${citation.page}` : "";
    return `${title}${section}${page}`;
  }

  // `leads`: the answer's short answer (or its short list's items), marked inside the passage
  // when this citation holds them.
  function citeButton(citation, label, className, leads = []) {
    const button = el("button", className, label);
    button.type = "button";
    button.setAttribute("aria-controls", "source-panel");
    button.title = citationLabel(citation);
    const held = leads.filter((lead) => lead.n === citation.n);
    button.addEventListener("click", () => openSource(citation, button, held));
    return button;
  }

  // The answer text with each [n] that has a citation made into a button.
  function renderAnswer(target, answer, citations, leads = []) {
    const byNumber = new Map(citations.map((c) => [String(c.n), c]));
    target.replaceChildren();
    let last = 0;
    for (const match of answer.matchAll(/\[(\d+)\]/g)) {
      const citation = byNumber.get(match[1]);
      if (!citation) continue;
      if (match.index > last) target.append(document.createTextNode(answer.slice(last, match.index)));
      const button = citeButton(citation, match[0], "cite", leads);
      button.setAttribute("aria-label", `Source ${citation.n}: ${citationLabel(citation)}`);
      target.append(button);
      last = match.index + match[0].length;
    }
    if (last < answer.length) target.append(document.createTextNode(answer.slice(last)));
  }

  // The span that answers a year/number/name question (or the items of a short list), first,
  // each run of items followed by the source it stands in: "Canada, France [1]".
  function renderShortAnswer(view, leads, citations) {
    const shown = leads.filter((lead) => citations.some((c) => c.n === lead.n));
    if (!shown.length) return;
    const line = el("p", "short-answer");
    shown.forEach((lead, position) => {
      if (position > 0) line.append(document.createTextNode(", "));
      line.append(el("strong", "", String(lead.text)));
      const next = shown[position + 1];
      if (!next || next.n !== lead.n) {
        const citation = citations.find((c) => c.n === lead.n);
        line.append(document.createTextNode(" "), citeButton(citation, `[${citation.n}]`, "cite", leads));
      }
    });
    view.bubble.insertBefore(line, view.text);
  }

  // The short answer, or the short list's items, as one list.
  function leadsOf(data) {
    if (data.short_answer) return [data.short_answer];
    return Array.isArray(data.short_list) ? data.short_list : [];
  }

  function renderSources(bubble, citations, leads = []) {
    if (!citations.length) return;
    const wrapper = el("div", "sources");
    wrapper.append(el("h3", "sources-heading", "Sources"));
    const list = el("ol", "sources-list");
    for (const citation of citations) {
      const item = el("li");
      const button = citeButton(citation, `[${citation.n}] ${citationLabel(citation)}`, "source-link", leads);
      item.append(button);
      list.append(item);
    }
    wrapper.append(list);
    bubble.append(wrapper);
  }

  // The answer as plain text with its sources and their quotes, for pasting elsewhere.
  function answerAsText(answer, leads, citations) {
    const lines = [];
    if (leads.length) lines.push(leads.map((lead) => `${lead.text} [${lead.n}]`).join(", "), "");
    lines.push(answer.trim(), "", "Sources:");
    for (const c of citations) {
      const where = citationLabel(c);
      lines.push(`[${c.n}] ${where}: “${c.quote}”`);
    }
    return lines.join("\n");
  }

  async function copyText(text) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch (_) {
      // No clipboard API here (a page served over plain http to another host): the old way.
      const area = el("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.className = "visually-hidden";
      document.body.append(area);
      area.select();
      const done = document.execCommand("copy");
      area.remove();
      return done;
    }
  }

  function renderCopyButton(bubble, text) {
    const tools = el("div", "answer-tools");
    const button = el("button", "secondary copy", "Copy");
    button.type = "button";
    button.setAttribute("aria-label", "Copy the answer with its sources");
    const status = el("span", "copy-status");
    status.setAttribute("role", "status");
    button.addEventListener("click", async () => {
      status.textContent = (await copyText(text)) ? "Copied" : "Could not copy";
    });
    tools.append(button, status);
    bubble.append(tools);
  }

  function showError(view, message) {
    view.status.textContent = message;
    view.status.className = "status error";
    view.item.classList.add("failed");
  }

  function restoreQuestion(question) {
    if (!questionInput.value.trim()) questionInput.value = question;
  }

  async function runTurn(turn) {
    const { question, view, priorHistory } = turn;
    busy = true;
    sendButton.disabled = true;
    messages.setAttribute("aria-busy", "true");
    view.item.classList.remove("failed");
    view.status.className = "status";
    view.status.textContent = "Searching the sources…";
    view.text.replaceChildren();
    let answer = "";
    let final = null;
    try {
      const response = await apiFetch("/v1/ask/stream", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
        body: JSON.stringify({ question, history: priorHistory }),
      });
      await raiseForStatus(response);
      await readEvents(response, (name, data) => {
        if (name === "delta") {
          const piece = String(data.text ?? "");
          answer += piece;
          view.text.append(document.createTextNode(piece));
          view.status.textContent = "";
          scrollToEnd(view.item);
        } else if (name === "citations") {
          final = {
            citations: Array.isArray(data.citations) ? data.citations : [],
            abstained: !!data.abstained,
            leads: leadsOf(data),
          };
        } else if (name === "error") {
          const message = data && data.error && data.error.message;
          throw new Error(message ? String(message) : "The server could not answer.");
        }
      });
      if (!final) throw new Error("The answer was cut off before it finished. Please try again.");
    } catch (error) {
      if (error instanceof HttpError && error.status === 401) {
        showError(view, "This server needs an API key: enter it below to send the question.");
        askForKey(() => runTurn(turn));
      } else {
        const message = error instanceof HttpError
          ? `The server refused the question: ${error.message}`
          : error instanceof TypeError
            ? "Could not reach the server. Check the connection and try again."
            : error.message;
        showError(view, message);
        restoreQuestion(question);
      }
      return;
    } finally {
      busy = false;
      sendButton.disabled = false;
      messages.removeAttribute("aria-busy");
    }
    finishTurn(turn, answer, final);
  }

  function finishTurn(turn, answer, final) {
    const { view, question } = turn;
    view.status.textContent = "";
    if (final.abstained) {
      view.item.classList.add("abstained");
      view.bubble.prepend(el("p", "abstained-label", ABSTAINED_LABEL));
      view.text.textContent = answer;
    } else {
      renderAnswer(view.text, answer, final.citations, final.leads);
      renderShortAnswer(view, final.leads, final.citations);
      renderSources(view.bubble, final.citations, final.leads);
      renderCopyButton(view.bubble, answerAsText(answer, final.leads, final.citations));
    }
    history.push({ role: "user", content: question }, { role: "assistant", content: answer });
    scrollToEnd(view.item);
  }

  function send() {
    const question = questionInput.value.trim();
    if (!question || busy) return;
    questionInput.value = "";
    const priorHistory = history.slice(-MAX_HISTORY);
    addUserMessage(question);
    showExamples();
    const view = addAnswerMessage();
    scrollToEnd(view.item);
    runTurn({ question, view, priorHistory });
  }

  askForm.addEventListener("submit", (event) => {
    event.preventDefault();
    send();
  });

  questionInput.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      send();
    }
  });

  $("new-chat").addEventListener("click", () => {
    if (busy) return;
    history.length = 0;
    messages.replaceChildren();
    showExamples();
    closePanel(false);
    questionInput.focus();
  });

  // --- Source panel ----------------------------------------------------------------------------

  // start/end of the context around [start, end), widened to whole words.
  function contextBounds(text, start, end) {
    let from = Math.max(0, start - CONTEXT_CHARS);
    let to = Math.min(text.length, end + CONTEXT_CHARS);
    if (from > 0) {
      const space = text.slice(from, start).search(/\s/);
      if (space !== -1) from += space + 1;
    }
    if (to < text.length) {
      const tail = text.slice(end, to);
      const space = Math.max(tail.lastIndexOf(" "), tail.lastIndexOf("\n"));
      if (space !== -1) to = end + space;
    }
    return [from, to];
  }

  // The quote's text, with the short answer (when it lies inside) in <strong>: offsets are the
  // source's, so the span is cut out of the quote by them, as text nodes.
  // The quote, with each span that answers in bold; spans that do not fit the quote exactly
  // (or overlap an earlier one) are left unmarked.
  function fillQuote(mark, quote, citation, leads) {
    let last = 0;
    const ordered = [...leads].sort((a, b) => a.start - b.start);
    for (const lead of ordered) {
      const from = lead.start - citation.start;
      const to = lead.end - citation.start;
      if (from < last || to > quote.length || from >= to || quote.slice(from, to) !== lead.text) continue;
      mark.append(document.createTextNode(quote.slice(last, from)), el("strong", "answer-span", quote.slice(from, to)));
      last = to;
    }
    mark.append(document.createTextNode(quote.slice(last)));
  }

  function showPassage(citation, source, leads = []) {
    const passage = $("panel-passage");
    const text = typeof source.text === "string" ? source.text : "";
    $("panel-title").textContent = source.title || citation.title || citation.source_id;
    passage.replaceChildren();
    const mark = el("mark");
    if (text.slice(citation.start, citation.end) !== citation.quote) {
      // The source changed after the answer was given: show the quote alone.
      mark.textContent = citation.quote;
      passage.append(mark);
      $("panel-status").textContent = "The source has changed since this answer; showing the quote only.";
      return;
    }
    const [from, to] = contextBounds(text, citation.start, citation.end);
    fillQuote(mark, text.slice(citation.start, citation.end), citation, leads);
    passage.append(
      document.createTextNode((from > 0 ? "…" : "") + text.slice(from, citation.start)),
      mark,
      document.createTextNode(text.slice(citation.end, to) + (to < text.length ? "…" : "")),
    );
    $("panel-status").textContent = "";
    // Over the chat (phones) the panel scrolls on its own: the quote goes to its middle.
    const overlay = getComputedStyle(panel).position === "fixed";
    mark.scrollIntoView({ block: overlay ? "center" : "nearest" });
  }

  async function openSource(citation, opener, leads = []) {
    panelOpener = opener;
    document.querySelectorAll(".cite.active, .source-link.active").forEach((b) => b.classList.remove("active"));
    opener.classList.add("active");
    $("panel-heading").textContent = `Source [${citation.n}]`;
    $("panel-title").textContent = citation.title || citation.source_id;
    const meta = [citation.section, citation.page != null ? `page ${citation.page}` : ""].filter(Boolean);
    $("panel-meta").textContent = meta.join(" · ");
    $("panel-passage").replaceChildren();
    $("panel-status").textContent = "Loading the passage…";
    panel.hidden = false;
    panel.focus();
    panel.scrollIntoView({ block: "nearest" });
    try {
      const source = await getSource(citation.source_id);
      if (panelOpener === opener) showPassage(citation, source, leads);
    } catch (error) {
      if (panelOpener !== opener) return;
      if (error instanceof HttpError && error.status === 401) {
        $("panel-status").textContent = "This server needs an API key: enter it below.";
        askForKey(() => openSource(citation, opener, leads));
      } else {
        $("panel-status").textContent = error instanceof HttpError
          ? `Could not load the source: ${error.message}`
          : "Could not reach the server to load the source.";
      }
    }
  }

  function closePanel(returnFocus = true) {
    if (panel.hidden) return;
    panel.hidden = true;
    const opener = panelOpener;
    panelOpener = null;
    if (opener) opener.classList.remove("active");
    if (returnFocus && opener && opener.isConnected) opener.focus();
  }

  // --- Example questions -----------------------------------------------------------------------

  // A section heading as the topic of a question: its numbering and quote marks left off, and a
  // leading article in lower case ("4. The 1948 treaty" -> "the 1948 treaty").
  function topicOf(heading) {
    const topic = heading.replace(/^\s*\d+(\.\d+)*[.)]?\s+/, "").replace(/^[’‘'"“”«»\s]+|[’‘'"“”«»\s]+$/g, "");
    return /^(A|An|The)\s/.test(topic) ? topic[0].toLowerCase() + topic.slice(1) : topic;
  }

  // Questions on the empty page, one per document, from its first section that is not the
  // document's own title: what the index holds, never a list written for one corpus.
  function renderExamples(items) {
    const questions = [];
    for (const source of items) {
      const sections = Array.isArray(source.sections) ? source.sections : [];
      const heading = sections.find((s) => typeof s === "string" && s.trim() && s !== source.title);
      const topic = heading && topicOf(heading);
      if (topic) questions.push(`What do the sources say about ${topic}?`);
      if (questions.length === MAX_EXAMPLES) break;
    }
    $("examples-list").replaceChildren(...questions.map((question) => {
      const item = el("li");
      const button = el("button", "secondary", question);
      button.type = "button";
      button.addEventListener("click", () => {
        if (busy) return;
        questionInput.value = question;
        send();
      });
      item.append(button);
      return item;
    }));
    showExamples();
  }

  function showExamples() {
    $("examples").hidden = messages.children.length > 0 || $("examples-list").children.length === 0;
  }

  // For documents.js, which lists the documents and adds and deletes them.
  window.qaPage = Object.freeze({
    apiFetch, raiseForStatus, HttpError, el, askForKey, renderExamples, shortTitle, KEY_STORAGE,
    forgetSource: (sourceId) => sources.delete(sourceId),
  });

  $("panel-close").addEventListener("click", () => closePanel());
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !panel.hidden) {
      event.preventDefault();
      // Focus goes back to the [n] only when the reader was in the panel, not from the textarea.
      closePanel(panel.contains(document.activeElement));
    }
  });
})();
