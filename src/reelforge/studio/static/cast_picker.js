// The shot editor's cast picker: add a character by name, move one left or right, take one out. The hidden
// `cast` field carries the ids in frame order; only characters of the production can be added.
"use strict";
(function () {
  function picker(root) {
    const field = root.querySelector('input[name="cast"]');
    const list = root.querySelector(".cast-list");
    const nobody = root.querySelector(".cast-nobody");
    const add = root.querySelector('[data-testid="cast-add"]');

    function sync() {
      const ids = [...list.children].map((item) => item.dataset.id);
      field.value = ids.join(", ");
      nobody.hidden = ids.length > 0;
      for (const option of add.options) {
        if (option.value) option.disabled = ids.includes(option.value);
      }
    }

    function button(label, text, data) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "secondary";
      b.textContent = text;
      b.setAttribute("aria-label", label);
      b.setAttribute(data[0], data[1]);
      return b;
    }

    function member(id, name) {
      const item = document.createElement("li");
      item.className = "cast-member";
      item.dataset.id = id;
      item.setAttribute("data-testid", "cast-member");
      const span = document.createElement("span");
      span.className = "cast-name";
      span.textContent = name;
      item.append(span, " ", button(`move ${name} left`, "←", ["data-move", "-1"]), " ",
                  button(`move ${name} right`, "→", ["data-move", "1"]), " ",
                  button(`take ${name} out of the shot`, "✕", ["data-remove", ""]));
      return item;
    }

    list.addEventListener("click", (event) => {
      const target = event.target.closest("button");
      if (!target) return;
      const item = target.closest("li");
      if (target.hasAttribute("data-remove")) {
        item.remove();
      } else if (target.dataset.move === "-1" && item.previousElementSibling) {
        list.insertBefore(item, item.previousElementSibling);
      } else if (target.dataset.move === "1" && item.nextElementSibling) {
        list.insertBefore(item.nextElementSibling, item);
      }
      sync();
    });
    add.addEventListener("change", () => {
      const option = add.selectedOptions[0];
      if (option && option.value && !option.disabled) list.append(member(option.value, option.textContent));
      add.value = "";
      sync();
    });
  }

  function start(scope) {
    scope.querySelectorAll(".cast-picker").forEach((root) => {
      if (root.dataset.ready) return;
      root.dataset.ready = "true";
      picker(root);
    });
  }

  document.addEventListener("DOMContentLoaded", () => start(document));
  document.addEventListener("htmx:afterSettle", () => start(document));  // a saved form is swapped in anew
})();
