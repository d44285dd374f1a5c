// Review page: when A and B are identical at the frame shown, say why (the sentences come with the page,
// by pair of versions, in #ab-why's data-why). Watches the summary review.js writes, so it needs no hook there.
"use strict";
(function () {
  const why = document.getElementById("ab-why");
  const summary = document.getElementById("diff-summary");
  const pickA = document.getElementById("ab-a");
  const pickB = document.getElementById("ab-b");
  if (!why || !summary || !pickA || !pickB) return;
  const sentences = JSON.parse(why.dataset.why || "{}");

  function update() {
    const identical = summary.textContent.trim() === "identical";
    const sentence = (sentences[pickA.value] || {})[pickB.value] || "";
    why.textContent = sentence;
    why.hidden = !(identical && sentence);
  }

  new MutationObserver(update).observe(summary, {childList: true, characterData: true, subtree: true});
  pickA.addEventListener("change", update);
  pickB.addEventListener("change", update);
  update();
})();
