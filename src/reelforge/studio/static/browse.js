// The shot page's editor.
"use strict";

// The CSP forbids inline styles, so htmx must not carry a `style` attribute over from a swapped-out
// element to its replacement (by default it does, for CSS transitions): a tool that touched an input
// (a screenshot hides the caret with a style, leaving style="" behind) would turn every save into a
// CSP violation.
if (window.htmx) {
  htmx.config.attributesToSettle = htmx.config.attributesToSettle.filter((name) => name !== "style");
}

// A refused save (400: problems beside their fields; 409: someone else saved first) answers with
// the form to show, which htmx would otherwise drop as an error response.
document.addEventListener("htmx:beforeSwap", (event) => {
  const status = event.detail.xhr.status;
  const target = event.detail.target;
  if ((status === 400 || status === 409) && target && target.id === "shot-editor") {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});
