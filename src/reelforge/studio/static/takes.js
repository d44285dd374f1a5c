// The Takes panel (templates/takes_panel.html): a take plays while the pointer is over it or after a click;
// the button says how many takes it renders; a refused request's panel (400, 409) is shown; a pick re-fetches the
// shot's editor, whose base version of the spec the pick has moved on.
"use strict";
(function () {
  function isTakeVideo(element) {
    return element instanceof HTMLVideoElement && element.classList.contains("take-video");
  }

  // mouseenter/mouseleave do not bubble: listened for in the capture phase, so swapped-in panels need no wiring.
  document.addEventListener("mouseenter", (event) => {
    if (isTakeVideo(event.target)) event.target.play().catch(() => {});
  }, true);
  document.addEventListener("mouseleave", (event) => {
    if (isTakeVideo(event.target) && !event.target.dataset.clicked) event.target.pause();
  }, true);
  document.addEventListener("click", (event) => {
    const video = event.target;
    if (!isTakeVideo(video)) return;
    if (video.paused) {
      video.dataset.clicked = "true";
      video.play().catch(() => {});
    } else {
      delete video.dataset.clicked;
      video.pause();
    }
  });

  document.addEventListener("input", (event) => {
    if (event.target.id !== "takes-count") return;
    const shown = document.querySelector('#takes-panel [data-field="takes-count"]');
    if (shown) shown.textContent = event.target.value || "?";
  });

  document.addEventListener("htmx:beforeSwap", (event) => {
    const status = event.detail.xhr.status;
    const target = event.detail.target;
    if ((status === 400 || status === 409) && target && target.id === "takes-panel") {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  document.addEventListener("reelforge:take-picked", (event) => {
    const editor = document.getElementById("shot-editor");
    if (!editor || !window.htmx) return;
    window.htmx.ajax("GET", window.location.pathname, {target: "#shot-editor", select: "#shot-editor",
                                                        swap: "outerHTML"});
  });
})();
