// The episode page's cut: the timeline strip (blocks sized by length, a click jumps the player to the shot) and
// keeping the page current when a render finishes — re-assembling or rendering this episode brings its new file
// into the player; a render of one of its shots refreshes what the page says of the cut, leaving the player be.
// Everything it needs is in data-* attributes the server wrote (no inline script or style: the CSP forbids them).
"use strict";
(function () {
  function sizeBlocks() {
    for (const block of document.querySelectorAll(".tl-block[data-frames]")) {
      block.style.flexGrow = block.dataset.frames;  // the CSSOM, not a style attribute: allowed by the CSP
    }
  }

  function markCurrent(video) {
    const now = video.currentTime;
    let current = null;
    for (const block of document.querySelectorAll(".tl-block[data-seek]")) {
      if (Number(block.dataset.seek) <= now + 1e-3) current = block;
    }
    for (const block of document.querySelectorAll(".tl-block")) block.classList.toggle("current", block === current);
  }

  // A timeline block, or a shot's time button that came with a refresh (review.js binds only the page's first ones).
  function onClick(event) {
    const block = event.target.closest && event.target.closest(".tl-block, button.seek[data-refreshed]");
    if (!block || !block.dataset.seek) return;
    const video = document.getElementById("episode-video");
    if (!video) return;
    video.currentTime = Number(block.dataset.seek);
    markCurrent(video);
    if (!block.classList.contains("tl-block")) video.play().catch(() => {});
  }

  // Replace these parts of the page with the server's current ones, keeping everything else (a queued item's feedback).
  function refresh(ids) {
    fetch(window.location.pathname, {credentials: "same-origin", headers: {"Accept": "text/html"}})
      .then((response) => (response.ok ? response.text() : null))
      .then((html) => {
        if (!html) return;
        const fresh = new DOMParser().parseFromString(html, "text/html");
        for (const id of ids) {
          const now = document.getElementById(id), next = fresh.getElementById(id);
          if (!now || !next) continue;
          const adopted = document.importNode(next, true);
          now.replaceWith(adopted);
          for (const button of adopted.querySelectorAll("button.seek")) button.dataset.refreshed = "1";
          if (window.htmx) window.htmx.process(adopted);
        }
        sizeBlocks();
        const video = document.getElementById("episode-video");
        if (video) watchVideo(video);
      })
      .catch(() => {});
  }

  function watchVideo(video) {
    if (video.dataset.watched) return;
    video.dataset.watched = "1";
    video.addEventListener("timeupdate", () => markCurrent(video));
    video.addEventListener("seeked", () => markCurrent(video));
  }

  function onRenderDone(event) {
    const root = document.getElementById("episode-cut");
    const detail = event.detail || {};
    if (!root || detail.state !== "done") return;
    const episode = root.dataset.episode;
    const ours = (root.dataset.shots || "").split(" ").filter(Boolean);
    if (detail.target === `assemble:${episode}` || detail.target === `episode:${episode}`) {
      refresh(["episode-cut", "episode-player", "episode-shots"]);  // a new file: into the player
    } else if ((detail.shots || []).some((shot) => ours.includes(shot))) {
      refresh(["episode-cut", "episode-timeline-wrap", "episode-shots"]);
    }
  }

  function start() {
    sizeBlocks();
    document.addEventListener("click", onClick);
    document.body.addEventListener("reelforge:render-done", onRenderDone);
    const video = document.getElementById("episode-video");
    if (video) watchVideo(video);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
