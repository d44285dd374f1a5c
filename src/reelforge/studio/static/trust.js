// Trace a file: drop a video anywhere on the page (or pick one); it is uploaded with the CSRF header
// (window.reelforge.post) and the server's result is shown below the drop zone.
"use strict";
(function () {
  const form = document.getElementById("trace-form");
  if (!form) return;
  const input = form.querySelector('input[type="file"]');
  const slot = document.getElementById("trace-result-slot");
  const status = document.getElementById("trace-status");
  let busy = false;

  function show(text, isHtml) {
    if (isHtml) {
      slot.innerHTML = text;  // our own server's template (escaped; the CSP forbids inline script)
    } else {
      const message = document.createElement("p");
      message.className = "error";
      message.setAttribute("data-testid", "trace-result");
      message.textContent = text;
      slot.replaceChildren(message);
    }
  }

  async function upload(file) {
    if (!file || busy) return;
    busy = true;
    form.classList.add("busy");
    status.textContent = `Uploading ${file.name} and reading its mark…`;
    slot.replaceChildren();
    const body = new FormData();
    body.append("file", file, file.name);
    try {
      const response = await window.reelforge.post("/trace", body);
      const type = response.headers.get("content-type") || "";
      show(await response.text(), type.startsWith("text/html"));
      status.textContent = "";
    } catch (error) {
      status.textContent = "";
      show(`The upload did not reach the studio (${error.message}). Is it still running?`, false);
    } finally {
      busy = false;
      form.classList.remove("busy");
      input.value = "";
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (input.files.length) {
      upload(input.files[0]);
    } else {  // one message at a time: an earlier result gives way to this one
      slot.replaceChildren();
      status.textContent = "Choose or drop a video file first.";
    }
  });
  input.addEventListener("change", () => { if (input.files.length) upload(input.files[0]); });

  // The whole page is the drop target: a file dropped anywhere is traced, never opened by the browser.
  let depth = 0;
  document.addEventListener("dragenter", (event) => { event.preventDefault(); depth += 1; form.classList.add("over"); });
  document.addEventListener("dragleave", () => { depth = Math.max(0, depth - 1); if (!depth) form.classList.remove("over"); });
  document.addEventListener("dragover", (event) => { event.preventDefault(); });
  document.addEventListener("drop", (event) => {
    event.preventDefault();
    depth = 0;
    form.classList.remove("over");
    const files = event.dataTransfer ? event.dataTransfer.files : null;
    if (files && files.length) upload(files[0]);
  });
})();
