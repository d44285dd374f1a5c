// Review pages: the frame stepper, the A/B comparison and the episode player's shot buttons.
// Everything it needs is in data-* attributes the server wrote (no inline script: the CSP forbids it).
"use strict";
(function () {
  function show(img, src, alt) {
    if (src) {
      if (img.getAttribute("src") !== src) img.src = src;
      img.alt = alt;
      img.hidden = false;
    } else {
      img.removeAttribute("src");
      img.alt = "";
      img.hidden = true;
    }
  }

  function frameUrl(digest) { return digest ? `/frames/${digest}.png` : null; }

  function preload(digests) {
    for (const digest of digests) {
      if (digest) new Image().src = frameUrl(digest);
    }
  }

  function shotReview(root) {
    const versions = JSON.parse(root.dataset.versions);
    const byKey = new Map(versions.map((v) => [v.key, v]));
    const el = (id) => document.getElementById(id);
    const prev = el("frame-prev"), next = el("frame-next"), slider = el("frame-slider");
    const selectA = el("ab-a"), selectB = el("ab-b");
    const state = {index: 0, a: root.dataset.a, b: root.dataset.b};
    let asked = 0;  // the newest difference asked for: an older answer arriving late is dropped

    function at(key, index) {
      const version = byKey.get(key);
      return version && index < version.frames.length ? version.frames[index] : null;
    }

    function summarize(a, b, index) {
      const summary = el("diff-summary");
      summary.classList.remove("same");
      if (!a || !b) {
        summary.textContent = `${a ? "version B" : "version A"} has no frame ${index}`;
        return;
      }
      const ticket = ++asked;
      summary.textContent = "comparing…";
      fetch(`/diff/${a}/${b}.json`, {credentials: "same-origin"})
        .then((response) => response.json().then((body) => ({ok: response.ok, body})))
        .then(({ok, body}) => {
          if (ticket !== asked) return;
          summary.textContent = ok ? body.summary : (body.detail || "cannot compare these frames");
          summary.classList.toggle("same", ok && body.identical);
        })
        .catch(() => { if (ticket === asked) summary.textContent = "cannot reach the studio to compare"; });
    }

    function render() {
      const stepped = byKey.get(state.b);
      const total = stepped.frames.length;
      state.index = Math.max(0, Math.min(state.index, total - 1));
      const i = state.index;
      el("frame-index").textContent = `frame ${i} / ${total}`;
      prev.disabled = i === 0;
      next.disabled = i >= total - 1;
      slider.max = String(total - 1);
      slider.value = String(i);
      el("stepper-version").textContent = `v${stepped.number}`;
      const digest = at(state.b, i);
      show(el("frame-image"), frameUrl(digest), `frame ${i} of v${stepped.number}`);
      el("frame-digest").textContent = digest || "not rendered in this version";
      if (selectA && selectB) {
        const a = at(state.a, i), b = digest;
        const versionA = byKey.get(state.a);
        el("ab-a-label").textContent = `v${versionA.number}`;
        el("ab-b-label").textContent = `v${stepped.number}`;
        show(el("ab-a-image"), frameUrl(a), `version A, frame ${i}`);
        show(el("ab-b-image"), frameUrl(b), `version B, frame ${i}`);
        show(el("diff-image"), a && b ? `/diff/${a}/${b}.png` : null, `difference of A and B at frame ${i}`);
        summarize(a, b, i);
        preload([at(state.a, i + 1), at(state.b, i + 1)]);
      } else {
        preload([at(state.b, i + 1)]);
      }
    }

    function step(by) {
      state.index += by;
      render();
    }

    prev.addEventListener("click", () => step(-1));
    next.addEventListener("click", () => step(1));
    slider.addEventListener("input", () => { state.index = Number(slider.value); render(); });
    // The player (player.js) owns the keys when it is on the page: the stepper follows its frame instead.
    document.body.addEventListener("reelforge:frame", (event) => { state.index = event.detail.index; render(); });
    if (!document.getElementById("player")) document.addEventListener("keydown", (event) => {
      const target = event.target;
      if (event.altKey || event.ctrlKey || event.metaKey) return;
      if (target.closest && target.closest("input, select, textarea, video, [contenteditable]")) return;
      if (event.key === "ArrowLeft") { event.preventDefault(); step(-1); }
      if (event.key === "ArrowRight") { event.preventDefault(); step(1); }
    });
    if (selectA && selectB) {
      selectA.addEventListener("change", () => { state.a = selectA.value; render(); });
      selectB.addEventListener("change", () => { state.b = selectB.value; render(); });
    }
    preload([at(state.a, 1), at(state.b, 1)]);
  }

  function episodePlayer() {
    const video = document.getElementById("episode-video");
    if (!video) return;
    for (const button of document.querySelectorAll("button.seek[data-seek]")) {
      button.addEventListener("click", () => {
        video.currentTime = Number(button.dataset.seek);
        video.play().catch(() => {});
      });
    }
  }

  // A render of this shot finished (queue.js dispatches the event): offer to reload, keeping the place until then.
  function newVersionNotice() {
    const notice = document.getElementById("new-version");
    if (!notice) return;
    document.body.addEventListener("reelforge:render-done", (event) => {
      const detail = event.detail || {};
      if (detail.state === "done" && (detail.shots || []).includes(notice.dataset.shot)) notice.hidden = false;
    });
  }

  // The shot's part of an episode file: play from its first frame and stop on its last, not a frame
  // into the next shot (a media fragment's end is only checked every quarter second or so).
  function shotPart() {
    const video = document.getElementById("shot-video");
    if (!video || !video.dataset.end) return;
    const start = Number(video.dataset.start), end = Number(video.dataset.end), fps = Number(video.dataset.fps);
    const last = end - 1 / fps;  // when the shot's last frame is shown
    const watch = () => {
      if (video.paused) return;
      if (video.currentTime >= last - 1e-3) {
        video.pause();
        video.currentTime = last;
        return;
      }
      if (video.requestVideoFrameCallback) video.requestVideoFrameCallback(watch);
      else requestAnimationFrame(watch);
    };
    const toStart = () => { if (video.currentTime < start - 1e-3) video.currentTime = start; };
    if (video.readyState >= 1) toStart();
    else video.addEventListener("loadedmetadata", toStart, {once: true});  // show the shot's first frame, not the episode's
    video.addEventListener("play", () => {
      if (video.currentTime < start - 1e-3 || video.currentTime >= last - 1e-3) video.currentTime = start;
      watch();
    });
  }

  function start() {
    const root = document.getElementById("review");
    if (root) shotReview(root);
    newVersionNotice();
    shotPart();
    episodePlayer();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
