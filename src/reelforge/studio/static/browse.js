// The shot page's editor.
"use strict";

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
