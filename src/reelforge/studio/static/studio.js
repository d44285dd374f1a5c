// Shared by every page: the CSRF token for scripts that post with fetch (htmx sends it from <body hx-headers>).
"use strict";
window.reelforge = {
  csrf() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  },
  post(url, body) {
    return fetch(url, {method: "POST", body, credentials: "same-origin",
                       headers: {"X-CSRF-Token": window.reelforge.csrf()}});
  },
};
