/* Keyboard triage on the inbox: j/k move between tokens, a/r approve or reject the current
   one (the buttons' own requests, so the undo window applies), x selects it, / searches,
   ? shows the help. Keys typed into a field stay text: Escape leaves the field for its row. */
(function () {
  "use strict";

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("#inbox-results tr.token-row"));
  }

  // The current token by id: its row element is replaced when an action or refresh swaps it.
  var currentId = null;

  function currentRow() {
    var active = document.activeElement;
    return (active && active.closest && active.closest("tr.token-row")) ||
      (currentId && document.getElementById("row-" + currentId));
  }

  function select(row) {
    rows().forEach(function (other) { other.classList.remove("is-current"); });
    currentId = row.getAttribute("data-token");
    row.classList.add("is-current");
    row.focus();
    row.scrollIntoView({ block: "nearest" });
  }

  function move(step) {
    var all = rows();
    if (!all.length) return;
    var index = all.indexOf(currentRow());
    var next = index < 0 ? all[0] : all[Math.min(all.length - 1, Math.max(0, index + step))];
    select(next);
  }

  function decide(key) {
    var row = currentRow();
    var button = row && row.querySelector('button[data-choice="' + key + '"]');
    if (!button) return;
    var comment = row.querySelector("[data-draft]");
    if (button.hasAttribute("data-require-comment") && comment && !comment.value.trim()) {
      comment.focus();
      window.wp.say("Type the reason, then press " + button.textContent.trim() + ".", "warning");
      return;
    }
    button.click();
  }

  document.addEventListener("click", function (event) {
    var close = event.target.closest("[data-close-dialog]");
    if (close) close.closest("dialog").close();
  });

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    var target = event.target;
    var typing = target.closest && target.closest("input:not([type=checkbox]):not([type=radio]), textarea, select, [contenteditable]");
    if (typing) {
      var row = target.closest("tr.token-row");
      if (event.key === "Escape" && row) select(row);
      return;
    }
    var dialog = document.getElementById("shortcuts");
    if (dialog && dialog.open) return;
    switch (event.key) {
      case "?":
        if (dialog) dialog.showModal();
        break;
      case "/":
        var search = document.getElementById("id_q");
        if (!search) return;
        search.focus();
        search.select();
        break;
      case "j": move(1); break;
      case "k": move(-1); break;
      case "x":
        var box = currentRow() && currentRow().querySelector("input[name=ids]");
        if (!box) return;
        box.checked = !box.checked;
        break;
      case "a":
      case "r":
        decide(event.key);
        break;
      default:
        return;
    }
    event.preventDefault();
  });
})();
