// The documents panel: the index's documents (GET /v1/sources) with their kind, sections and
// chunk count, an upload (POST /v1/documents, by XMLHttpRequest because fetch cannot report upload
// progress) and a delete button for each (DELETE /v1/documents/{id}).
// Titles, names and messages come from documents and are untrusted: text nodes only, as in app.js.
"use strict";

(() => {
  const page = window.qaPage;
  const { el, apiFetch, raiseForStatus, HttpError } = page;
  const $ = (id) => document.getElementById(id);
  const panel = $("documents");
  const list = $("documents-list");
  const form = $("upload-form");
  const fileInput = $("upload-file");
  const sendButton = $("upload-send");
  const bar = $("upload-progress");
  const status = $("upload-status");
  const POLL_MS = 400;
  // What GET /v1/documents/progress's stages mean to a reader.
  const STAGES = {
    receiving: "Receiving the file…",
    indexing: "Indexing: reading, splitting and embedding…",
    "loading the new index": "Loading the new index…",
    removing: "Removing it from the index…",
  };
  let changing = false;

  function say(text, kind = "") {
    status.textContent = text;
    status.className = `upload-status ${kind}`.trim();
  }

  function plural(n, word) {
    return `${n} ${word}${n === 1 ? "" : "s"}`;
  }

  function documentItem(source) {
    const item = el("li", "document");
    const title = el("span", "doc-title", String(source.short_title || source.title || source.source_id));
    title.title = String(source.title || "");
    const sections = Array.isArray(source.sections) ? source.sections.length : 0;
    const facts = [source.kind, plural(sections, "section"), plural(Number(source.chunks) || 0, "chunk")];
    const meta = el("span", "doc-meta", facts.filter(Boolean).join(" · "));
    const remove = el("button", "secondary doc-delete", "Delete");
    remove.type = "button";
    remove.setAttribute("aria-label", `Delete ${source.title || source.source_id}`);
    remove.addEventListener("click", () => deleteDocument(source, remove));
    item.append(title, meta, remove);
    return item;
  }

  // A server that needs a key lists them once a key is given (401: the panel stays hidden); an
  // index with no documents yet (503) still shows the upload.
  async function listDocuments() {
    let items = [];
    try {
      const response = await apiFetch("/v1/sources");
      if (response.status === 401) return;
      if (response.ok) {
        const body = await response.json();
        items = Array.isArray(body.sources) ? body.sources : [];
      } else if (response.status !== 503) return;
    } catch (error) {
      return; // the page still answers without the list
    }
    list.replaceChildren(...items.map(documentItem));
    $("documents-summary").textContent = items.length
      ? `${plural(items.length, "document")} in the index`
      : "No documents in the index yet: add one";
    panel.hidden = false;
    page.renderExamples(items);
  }

  function busy(on) {
    changing = on;
    sendButton.disabled = on;
    list.querySelectorAll("button").forEach((button) => { button.disabled = on; });
  }

  // While the server works on a change, its stage, every POLL_MS, until stop() is called.
  function followProgress() {
    let timer = null;
    const poll = async () => {
      try {
        const response = await apiFetch("/v1/documents/progress");
        const body = response.ok ? await response.json() : null;
        if (timer !== null && body && body.running && STAGES[body.stage]) say(STAGES[body.stage]);
      } catch (_) {
        // a missed poll only delays the next line
      }
      if (timer !== null) timer = setTimeout(poll, POLL_MS);
    };
    timer = setTimeout(poll, POLL_MS);
    return () => { clearTimeout(timer); timer = null; };
  }

  // The JSON error envelope's message, or the status line.
  function errorOf(xhr) {
    try {
      const body = JSON.parse(xhr.responseText);
      if (body && body.error && body.error.message) return String(body.error.message);
    } catch (_) {
      // not JSON
    }
    return `${xhr.status} ${xhr.statusText}`.trim();
  }

  function send(file) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", "/v1/documents");
      const key = sessionStorage.getItem(page.KEY_STORAGE);
      if (key) xhr.setRequestHeader("Authorization", `Bearer ${key}`);
      xhr.upload.addEventListener("progress", (event) => {
        if (!event.lengthComputable) return;
        bar.value = Math.round((100 * event.loaded) / event.total);
        say(`Uploading ${file.name}: ${bar.value}%`);
      });
      let stop = () => {};
      xhr.upload.addEventListener("load", () => {
        bar.removeAttribute("value"); // indeterminate: the server is indexing now
        say(STAGES.indexing);
        stop = followProgress();
      });
      xhr.addEventListener("load", () => {
        stop();
        if (xhr.status === 201) resolve(JSON.parse(xhr.responseText));
        else reject(new HttpError(xhr.status, errorOf(xhr)));
      });
      xhr.addEventListener("error", () => { stop(); reject(new TypeError("network")); });
      const body = new FormData();
      body.append("file", file);
      xhr.send(body);
    });
  }

  async function upload() {
    const file = fileInput.files && fileInput.files[0];
    if (!file || changing) return;
    busy(true);
    bar.value = 0;
    bar.hidden = false;
    say(`Uploading ${file.name}…`);
    try {
      const added = await send(file);
      const source = added.source || {};
      say(`Added “${source.short_title || source.title}”: ${plural(Number(source.chunks) || 0, "chunk")}.`, "done");
      form.reset();
      await listDocuments();
    } catch (error) {
      failed(error, "The upload was refused", upload);
    } finally {
      bar.hidden = true;
      busy(false);
    }
  }

  function failed(error, what, retry) {
    if (error instanceof HttpError && error.status === 401) {
      say("This server needs an API key: enter it below, then try again.", "error");
      page.askForKey(retry);
    } else if (error instanceof HttpError) {
      say(`${what}: ${error.message}`, "error");
    } else {
      say("Could not reach the server. Check the connection and try again.", "error");
    }
  }

  async function deleteDocument(source, button) {
    if (changing) return;
    const name = source.title || source.source_id;
    if (!window.confirm(`Delete “${name}” from the corpus and the index?`)) return;
    busy(true);
    say(STAGES.removing);
    const stop = followProgress();
    try {
      const path = String(source.source_id).split("/").map(encodeURIComponent).join("/");
      const response = await apiFetch(`/v1/documents/${path}`, { method: "DELETE" });
      await raiseForStatus(response);
      page.forgetSource(source.source_id);
      say(`Deleted “${source.short_title || name}”.`, "done");
      await listDocuments();
    } catch (error) {
      failed(error, "The document was not deleted", () => deleteDocument(source, button));
    } finally {
      stop();
      busy(false);
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    upload();
  });
  document.addEventListener("qa:key", listDocuments);
  listDocuments();
})();
