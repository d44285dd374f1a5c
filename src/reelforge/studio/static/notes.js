// The shot review page's review status and notes pinned to frames.
// A drawing layer (a <canvas>) lies over the frame stepper's still: arrow, box and freehand strokes, kept in
// normalized 0..1 coordinates, saved with a note on the frame and version the stepper shows. The sidebar lists
// that version's notes; clicking one steps to its frame and shows its drawing. review.js owns the stepper: this
// file reads where it is (#frame-slider, #ab-b) and moves it by setting the slider, as a person would.
"use strict";
(function () {
  const INK = "#ff28dc";  // saved notes: the review sheet draws with the same colour (app/review_sheet.py)
  const DRAFT = "#00e5ff";  // strokes not saved yet
  const el = (id) => document.getElementById(id);

  // --------------------------------------------------------------- the review status panel

  function statusPanel(currentKey) {
    function sync() {
      const section = el("review-status");
      if (!section || !section.dataset.statuses) return;
      const statuses = JSON.parse(section.dataset.statuses);
      const key = currentKey();
      const found = statuses[key];
      if (!found) return;
      el("status-job-key").value = key;
      const badge = el("review-state");
      badge.textContent = found.label;
      badge.className = `review-badge review-${found.state}`;
      badge.dataset.state = found.state;
      el("review-version").textContent = `v${found.number}`;
      el("review-by").textContent = found.actor ? `, set by ${found.actor} at ${found.at}` : "";
      el("review-older").hidden = key === section.dataset.current;
      const changed = el("review-changed");
      if (changed) changed.hidden = key !== section.dataset.current;
      const note = el("review-note");
      note.textContent = found.note || "";
      note.hidden = !found.note;
    }

    function replace(html) {
      const current = el("review-status");
      const template = document.createElement("template");
      template.innerHTML = html;  // the studio's own fragment (notes_status.html), its text escaped by Jinja
      const fresh = template.content.querySelector("#review-status");
      if (current && fresh) current.replaceWith(fresh);
      sync();
    }

    function load() {
      const placeholder = el("review-status");
      if (!placeholder) return;
      fetch(placeholder.dataset.url, {credentials: "same-origin"})
        .then((response) => response.text())
        .then(replace)
        .catch(() => { placeholder.textContent = "Cannot reach the studio to show the review status."; });
    }

    document.addEventListener("submit", (event) => {
      const form = event.target;
      if (form.id !== "status-form") return;
      event.preventDefault();
      const section = el("review-status");
      const body = new FormData(form);
      body.set("status", event.submitter ? event.submitter.value : "");
      window.reelforge.post(section.dataset.url, body)
        .then((response) => response.text().then((text) => ({response, text})))
        .then(({response, text}) => {
          const type = response.headers.get("content-type") || "";
          if (type.startsWith("text/html")) replace(text);
          else alertIn(form, (type.includes("json") ? JSON.parse(text).detail : text) || `refused (${response.status})`);
        })
        .catch(() => alertIn(form, "cannot reach the studio: the status was not saved"));
    });

    function alertIn(form, message) {
      let line = form.querySelector(".error");
      if (!line) {
        line = document.createElement("p");
        line.className = "error";
        line.setAttribute("role", "alert");
        line.dataset.testid = "status-error";
        form.append(line);
      }
      line.textContent = message;
    }

    load();
    return sync;
  }

  // --------------------------------------------------------------- drawing

  function drawStroke(context, stroke, colour, width, height) {
    const points = stroke.points.map(([x, y]) => [x * width, y * height]);
    context.strokeStyle = colour;
    context.lineWidth = Math.max(2, width / 200);
    context.lineJoin = "round";
    context.lineCap = "round";
    context.beginPath();
    if (stroke.tool === "box") {
      const [[x0, y0], [x1, y1]] = points;
      context.rect(Math.min(x0, x1), Math.min(y0, y1), Math.abs(x1 - x0), Math.abs(y1 - y0));
    } else if (stroke.tool === "arrow") {
      const [[x0, y0], [x1, y1]] = points;
      const angle = Math.atan2(y1 - y0, x1 - x0), head = Math.max(12, width / 30), side = 25 * Math.PI / 180;
      context.moveTo(x0, y0);
      context.lineTo(x1, y1);
      context.moveTo(x1 - head * Math.cos(angle + side), y1 - head * Math.sin(angle + side));
      context.lineTo(x1, y1);
      context.lineTo(x1 - head * Math.cos(angle - side), y1 - head * Math.sin(angle - side));
    } else {
      points.forEach(([x, y], i) => (i ? context.lineTo(x, y) : context.moveTo(x, y)));
    }
    context.stroke();
  }

  function notes(root, panel) {
    const image = el("frame-image"), slider = el("frame-slider"), selectB = el("ab-b");
    const versions = new Map(JSON.parse(root.dataset.versions).map((v) => [v.key, v]));
    const currentKey = () => (selectB ? selectB.value : root.dataset.b);
    const currentIndex = () => Number(slider.value) || 0;
    const syncStatus = statusPanel(currentKey);

    // The frame still gets a stage with the drawing layer over it; the tools go right under it.
    const stage = document.createElement("div");
    stage.className = "frame-stage";
    image.parentNode.insertBefore(stage, image);
    stage.append(image);
    const canvas = document.createElement("canvas");
    canvas.className = "draw-layer";
    canvas.dataset.testid = "draw-layer";
    canvas.setAttribute("aria-label", "drawing layer over the frame");
    stage.append(canvas);
    stage.after(el("draw-tools"));

    const state = {tool: "box", draft: [], current: null, list: [], selected: null,
                   key: currentKey(), index: currentIndex(), loaded: 0};

    function size() {
      const dpr = window.devicePixelRatio || 1;
      const width = Math.round(image.clientWidth * dpr), height = Math.round(image.clientHeight * dpr);
      if (canvas.width !== width || canvas.height !== height) {
        canvas.width = width;
        canvas.height = height;
      }
    }

    function redraw() {
      canvas.hidden = image.hidden;
      size();
      const context = canvas.getContext("2d");
      context.clearRect(0, 0, canvas.width, canvas.height);
      const shown = state.selected !== null ? state.list.filter((n) => n.id === state.selected)
        : state.list.filter((n) => n.frame === state.index);
      for (const note of shown) {
        for (const stroke of note.drawing) drawStroke(context, stroke, INK, canvas.width, canvas.height);
      }
      for (const stroke of [...state.draft, ...(state.current ? [state.current] : [])]) {
        drawStroke(context, stroke, DRAFT, canvas.width, canvas.height);
      }
      const count = state.draft.length;
      el("draw-count").textContent = count ? `${count} mark${count === 1 ? "" : "s"} drawn, not saved yet` : "";
    }

    function point(event) {
      const rect = canvas.getBoundingClientRect();
      const clamp = (v) => Math.round(Math.min(1, Math.max(0, v)) * 1e5) / 1e5;
      return [clamp((event.clientX - rect.left) / rect.width), clamp((event.clientY - rect.top) / rect.height)];
    }

    canvas.addEventListener("pointerdown", (event) => {
      event.preventDefault();
      canvas.setPointerCapture(event.pointerId);
      const p = point(event);
      state.selected = null;
      state.current = {tool: state.tool, points: state.tool === "freehand" ? [p] : [p, p]};
      redraw();
    });
    canvas.addEventListener("pointermove", (event) => {
      const stroke = state.current;
      if (!stroke) return;
      const p = point(event);
      if (stroke.tool === "freehand") {
        const [x, y] = stroke.points[stroke.points.length - 1];
        if (Math.hypot(p[0] - x, p[1] - y) > 0.003 && stroke.points.length < 2000) stroke.points.push(p);
      } else {
        stroke.points[1] = p;
      }
      redraw();
    });
    const finish = () => {
      const stroke = state.current;
      if (!stroke) return;
      state.current = null;
      const [[x0, y0], [x1, y1]] = [stroke.points[0], stroke.points[stroke.points.length - 1]];
      if (stroke.points.length >= 2 && Math.hypot(x1 - x0, y1 - y0) > 0.005) state.draft.push(stroke);
      redraw();
    };
    canvas.addEventListener("pointerup", finish);
    canvas.addEventListener("pointercancel", finish);

    for (const button of document.querySelectorAll("#draw-tools .tool")) {
      button.addEventListener("click", () => {
        state.tool = button.dataset.tool;
        for (const other of document.querySelectorAll("#draw-tools .tool")) {
          other.setAttribute("aria-pressed", String(other === button));
        }
      });
    }
    el("draw-undo").addEventListener("click", () => { state.draft.pop(); redraw(); });
    el("draw-clear").addEventListener("click", () => { state.draft = []; redraw(); });

    // --------------------------------------------------------------- the sidebar

    function renderList() {
      const list = el("notes-list");
      list.replaceChildren();
      for (const note of state.list) {
        const item = document.createElement("li");
        item.dataset.testid = "note-item";
        item.dataset.note = String(note.id);
        item.dataset.frame = String(note.frame);
        item.tabIndex = 0;
        item.classList.toggle("selected", note.id === state.selected);
        const head = document.createElement("strong");
        head.textContent = `Frame ${note.frame}`;
        const marks = note.drawing.length ? ` · ${note.drawing.length} mark${note.drawing.length === 1 ? "" : "s"}` : "";
        const text = document.createElement("div");
        text.className = "note-text";
        text.textContent = note.text;
        const meta = document.createElement("div");
        meta.className = "note-meta";
        meta.textContent = `${note.actor} · ${note.at}${marks}`;
        item.append(head, text, meta);
        item.addEventListener("click", () => show(note));
        item.addEventListener("keydown", (event) => { if (event.key === "Enter") show(note); });
        list.append(item);
      }
      el("notes-empty").hidden = state.list.length > 0;
    }

    function show(note) {
      state.selected = note.id;
      state.draft = [];
      if (currentIndex() !== note.frame) {
        slider.value = String(note.frame);
        slider.dispatchEvent(new Event("input"));  // review.js steps there, as if the slider was moved
      }
      state.index = currentIndex();
      renderList();
      redraw();
    }

    function load() {
      const ticket = ++state.loaded, key = state.key;
      el("notes-version").textContent = `v${versions.get(key).number}`;
      fetch(`${panel.dataset.url}.json?job_key=${encodeURIComponent(key)}`, {credentials: "same-origin"})
        .then((response) => response.json())
        .then((body) => {
          if (ticket !== state.loaded) return;
          state.list = body.notes || [];
          renderList();
          redraw();
        })
        .catch(() => { el("notes-empty").textContent = "Cannot reach the studio to list the notes."; });
    }

    el("note-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const error = el("note-error"), text = el("note-text");
      const body = new FormData();
      body.set("job_key", state.key);
      body.set("frame", String(state.index));
      body.set("text", text.value);
      body.set("drawing", JSON.stringify(state.draft));
      window.reelforge.post(panel.dataset.url, body)
        .then((response) => response.json().then((answer) => ({ok: response.ok, answer})),
              () => ({ok: false, answer: {detail: "cannot reach the studio: the note was not saved"}}))
        .catch(() => ({ok: false, answer: {detail: "the studio refused the note"}}))
        .then(({ok, answer}) => {
          error.hidden = ok;
          if (!ok) {
            error.textContent = answer.detail || "the studio refused the note";
            return;
          }
          state.list.push(answer);
          state.draft = [];
          state.selected = answer.id;
          text.value = "";
          renderList();
          redraw();
        });
    });

    // --------------------------------------------------------------- following the stepper

    function followStepper() {
      const key = currentKey(), index = currentIndex();
      if (key !== state.key) {
        state.key = key;
        state.draft = [];
        state.selected = null;
        load();
        syncStatus();
      }
      if (index !== state.index) {
        state.index = index;
        state.draft = [];
        const selected = state.list.find((n) => n.id === state.selected);
        if (!selected || selected.frame !== index) state.selected = null;
        renderList();
      }
      el("note-frame").textContent = String(index);
      redraw();
    }

    new MutationObserver(followStepper).observe(el("frame-index"), {childList: true, characterData: true, subtree: true});
    new MutationObserver(followStepper).observe(image, {attributes: true, attributeFilter: ["src", "hidden"]});
    if (selectB) selectB.addEventListener("change", followStepper);
    image.addEventListener("load", redraw);
    new ResizeObserver(redraw).observe(image);
    load();
    followStepper();
  }

  function start() {
    const root = el("review"), panel = el("notes");
    if (root && panel && el("frame-image")) notes(root, panel);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
