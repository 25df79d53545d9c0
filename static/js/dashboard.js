/* Waitpoints dashboard helpers: live countdowns, copy buttons, row selection, and the guard
   that pauses self-refresh while a reviewer is typing. Everything else is htmx attributes. */
(function () {
  "use strict";

  function formatLeft(seconds) {
    if (seconds <= 0) return "due now";
    var d = Math.floor(seconds / 86400);
    var h = Math.floor((seconds % 86400) / 3600);
    var m = Math.floor((seconds % 3600) / 60);
    var s = Math.floor(seconds % 60);
    if (d > 0) return d + "d " + h + "h";
    if (h > 0) return h + "h " + m + "m";
    if (m > 0) return m + "m " + s + "s";
    return s + "s";
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      var left = (Date.parse(el.getAttribute("data-countdown")) - now) / 1000;
      el.textContent = formatLeft(left);
      el.classList.toggle("soon", left < 300);
    });
  }

  // Self-refresh (hx-trigger "every 5s [wpCanRefresh(this)]") must never wipe what a reviewer
  // is doing: skip while focus is inside (a keyboard user would lose their place), while a field
  // holds text, or while a <details> is open. Ticked rows survive: the refresh sends them along.
  window.wpCanRefresh = function (root) {
    if (document.hidden || !root) return !document.hidden;
    var active = document.activeElement;
    if (active && active !== document.body && root.contains(active)) return false;
    var fields = root.querySelectorAll("input[type=text], textarea");
    for (var i = 0; i < fields.length; i++) {
      if (fields[i].value.trim() !== "") return false;
    }
    return !root.querySelector("details[open]");
  };

  function copyText(text, button) {
    function done() {
      var label = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 1500);
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { fallbackCopy(text); done(); });
    } else {
      fallbackCopy(text);
      done();
    }
  }

  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    try { document.execCommand("copy"); } catch (e) { /* the text stays selectable on the page */ }
    document.body.removeChild(area);
  }

  document.addEventListener("click", function (event) {
    var copy = event.target.closest("[data-copy-target]");
    if (copy) {
      var source = document.querySelector(copy.getAttribute("data-copy-target"));
      if (source) copyText(source.textContent.trim(), copy);
    }
    var dismiss = event.target.closest("[data-dismiss]");
    if (dismiss) dismiss.parentElement.remove();
  });

  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-select-all]")) {
      document.querySelectorAll("input[name=ids]").forEach(function (box) {
        box.checked = event.target.checked;
      });
    }
  });

  document.addEventListener("DOMContentLoaded", tick);
  document.addEventListener("htmx:afterSettle", tick);
  setInterval(tick, 1000);
})();
