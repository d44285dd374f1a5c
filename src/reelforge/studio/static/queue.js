// The live render queue, on every page: one EventSource on /events.
//  - keeps #queue-count (nav) = items rendering or waiting;
//  - dispatches on document.body: "reelforge:queue" (detail: the snapshot) on every change,
//    "reelforge:render-done" (detail: {item_id, target, state, shots, message}) when an item finishes,
//    and "reelforge:queue-changed" when items came, started or finished (the queue page re-fetches its lists);
//  - updates every [data-testid=queue-item] on the page in place (state, progress, message, links);
//  - shows why POST /render was refused next to the button that asked.
"use strict";
(function () {
  const STATE_TEXT = {queued: "queued", running: "rendering", done: "done", failed: "failed", cancelled: "cancelled"};

  function emit(name, detail) {
    document.body.dispatchEvent(new CustomEvent(name, {detail}));
  }

  function field(element, name) {
    return element.querySelector(`[data-field="${name}"]`);
  }

  function setText(element, text) {
    if (element && element.textContent !== text) element.textContent = text;
  }

  function updateItem(element, item) {
    element.dataset.state = item.state;
    const badge = field(element, "state");
    if (badge) {
      setText(badge, STATE_TEXT[item.state] || item.state);
      badge.className = `badge queue-state ${item.state}`;
    }
    const progress = field(element, "progress");
    if (progress) {
      progress.max = Math.max(item.frames_total, 1);
      progress.value = item.frames_done;
      progress.textContent = `${item.frames_done} / ${item.frames_total}`;
    }
    setText(field(element, "frames"), `${item.frames_done} / ${item.frames_total} frames`);
    setText(field(element, "current-shot"), item.state === "running" ? item.current_shot : "");
    setText(field(element, "position"), item.position ? `#${item.position} in line` : "");
    const message = field(element, "message");
    if (message) {
      setText(message, item.message || "");
      message.classList.toggle("error", item.state === "failed");
    }
    const links = field(element, "links");
    if (links && links.childElementCount !== item.links.length) {
      links.replaceChildren(...item.links.map((link) => {
        const anchor = document.createElement("a");
        anchor.href = link.href;
        anchor.textContent = link.label;
        return anchor;
      }));
    }
    const cancel = field(element, "cancel");
    if (cancel) cancel.hidden = item.state !== "queued";
    const again = field(element, "again");
    if (again) again.hidden = !item.finished;
  }

  function signature(pairs) {
    return pairs.join(",");
  }

  function onSnapshot(snapshot) {
    const count = document.getElementById("queue-count");
    if (count) setText(count, snapshot.active ? String(snapshot.active) : "");
    const list = document.querySelector("[data-queue-list]");
    if (list) {  // compared before the in-place update: a new, started or finished item re-fetches the lists
      const shown = [...list.querySelectorAll("[data-testid=queue-item]")].map((e) => `${e.dataset.item}:${e.dataset.state}`);
      const now = snapshot.items.map((item) => `${item.id}:${item.state}`);
      if (signature(shown) !== signature(now)) emit("reelforge:queue-changed", snapshot);
    }
    const byId = new Map(snapshot.items.map((item) => [item.id, item]));
    for (const element of document.querySelectorAll("[data-testid=queue-item][data-item]")) {
      const item = byId.get(element.dataset.item);
      if (item) updateItem(element, item);
    }
    emit("reelforge:queue", snapshot);
  }

  function showRefusal(event) {
    const detail = event.detail;
    if (!detail || !detail.pathInfo || detail.pathInfo.requestPath !== "/render" || !detail.elt) return;
    const source = detail.elt;
    const parsed = new DOMParser().parseFromString(detail.xhr.responseText || "", "text/html");
    const message = parsed.querySelector("[data-testid=render-error]");
    const shown = document.createElement("p");
    shown.className = "error render-error";
    shown.setAttribute("role", "alert");
    shown.dataset.testid = "render-error";
    shown.textContent = message ? message.textContent : `the render was refused (HTTP ${detail.xhr.status})`;
    const previous = source.nextElementSibling;
    if (previous && previous.dataset.testid === "render-error") previous.remove();
    source.insertAdjacentElement("afterend", shown);
  }

  let source = null;

  function connect() {
    if (!window.EventSource || source) return;
    source = new EventSource("/events");  // the browser reconnects by itself when the stream ends
    source.addEventListener("queue", (event) => onSnapshot(JSON.parse(event.data)));
    source.addEventListener("done", (event) => emit("reelforge:render-done", JSON.parse(event.data)));
  }

  function start() {
    document.body.addEventListener("htmx:responseError", showRefusal);
    connect();
    // A page kept in the back/forward cache must not hold a stream; it gets a fresh one when shown again.
    window.addEventListener("pagehide", () => { if (source) source.close(); source = null; });
    window.addEventListener("pageshow", (event) => { if (event.persisted) connect(); });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
