/* Waitpoints dashboard helpers: live countdowns, local times, copy buttons, row selection,
   draft comments kept per token, visible errors and focus after an htmx action. The live
   refresh is in live.js, the keyboard shortcuts in keys.js; everything else is htmx. */
(function () {
  "use strict";
  var wp = (window.wp = window.wp || {});

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
      el.textContent = el.hasAttribute("data-pending") ? Math.max(0, Math.ceil(left)) + " s" : formatLeft(left);
      el.classList.toggle("soon", left < 300);
    });
  }

  function pad(n) { return String(n).padStart(2, "0"); }
  function utcText(date) {
    return date.getUTCFullYear() + "-" + pad(date.getUTCMonth() + 1) + "-" + pad(date.getUTCDate()) +
      " " + pad(date.getUTCHours()) + ":" + pad(date.getUTCMinutes()) + ":" + pad(date.getUTCSeconds()) + " UTC";
  }
  function localText(date) {
    return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
  }

  // Times are rendered in UTC by the server; shown in the reader's time zone, UTC on hover.
  wp.localize = function (root) {
    (root || document).querySelectorAll("time[datetime]").forEach(function (el) {
      var date = new Date(el.getAttribute("datetime"));
      if (isNaN(date)) return;
      if (el.hasAttribute("data-local")) {
        el.textContent = localText(date);
        el.title = utcText(date);
      } else {
        var label = el.getAttribute("data-utc-title");
        el.title = (label ? label + " " : "") + localText(date) + " (" + utcText(date) + ")";
      }
    });
  };

  // --- Draft comments: kept per token (sessionStorage) across refreshes and swaps ---------
  var DRAFT = "wp-draft:";
  wp.draftGet = function (tokenId) {
    try { return sessionStorage.getItem(DRAFT + tokenId) || ""; } catch (e) { return ""; }
  };
  wp.draftDrop = function (tokenId) {
    try { sessionStorage.removeItem(DRAFT + tokenId); } catch (e) { /* private mode */ }
  };
  function draftKeep(field) {
    try {
      var key = DRAFT + field.getAttribute("data-draft");
      if (field.value.trim()) sessionStorage.setItem(key, field.value);
      else sessionStorage.removeItem(key);
    } catch (e) { /* private mode: drafts only live in the page */ }
  }
  wp.restoreDrafts = function (root) {
    (root || document).querySelectorAll("[data-draft]").forEach(function (field) {
      if (!field.value) field.value = wp.draftGet(field.getAttribute("data-draft"));
    });
  };
  // A token finished: its draft is dropped, but one typed for a token someone else decided
  // meanwhile stays on screen, so the reviewer's words are not silently lost.
  wp.settleDraft = function (row, draft) {
    var tokenId = row.getAttribute("data-token");
    var state = row.getAttribute("data-state") || "";
    if (!tokenId || state === "waiting" || state.indexOf("pending") === 0) return;
    draft = draft || wp.draftGet(tokenId);
    wp.draftDrop(tokenId);
    if (!draft || !row.hasAttribute("data-elsewhere")) return;
    var note = document.createElement("p");
    note.className = "draft-note";
    note.textContent = "Decided by someone else first. Your comment was not sent: ";
    var quote = document.createElement("q");
    quote.setAttribute("dir", "auto");
    quote.textContent = draft;
    note.appendChild(quote);
    (row.querySelector(".col-decide, .col-status, .detail-head") || row).appendChild(note);
  };

  document.addEventListener("input", function (event) {
    if (event.target.matches("[data-draft]")) draftKeep(event.target);
  });

  // --- Messages ------------------------------------------------------------------------------
  wp.say = function (text, level) {
    var box = document.getElementById("messages");
    if (!box) return;
    var item = document.createElement("div");
    item.className = "message message-" + (level || "error");
    item.setAttribute("role", level === "error" ? "alert" : "status");
    var span = document.createElement("span");
    span.textContent = text;
    var close = document.createElement("button");
    close.type = "button";
    close.className = "message-dismiss";
    close.setAttribute("data-dismiss", "");
    close.setAttribute("aria-label", "Dismiss message");
    close.textContent = "×";
    item.appendChild(span);
    item.appendChild(close);
    box.appendChild(item);
  };

  var FAILURES = {
    403: "Not allowed: your account may no longer decide tokens, so nothing was recorded. Ask an administrator to add you to the Reviewers group.",
    404: "That token no longer exists; nothing was recorded.",
    413: "That is too large to send.",
  };
  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr.status;
    wp.say(FAILURES[status] || "The server failed (" + status + "): nothing may have been recorded. Try again.");
  });
  document.addEventListener("htmx:sendError", function () {
    wp.say("Could not reach the server: nothing was recorded. Check the connection and try again.");
  });

  // --- Focus after an action: the swapped row (or its field with an error, or Undo) ---------
  var focusAfter = null;
  document.addEventListener("htmx:beforeSwap", function (event) {
    var row = event.detail.target && event.detail.target.closest && event.detail.target.closest("tr.token-row, #token-detail");
    focusAfter = row ? row.id : null;
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    wp.localize(event.detail.elt);
    wp.restoreDrafts();
    tick();
    var swapped = focusAfter && document.getElementById(focusAfter);
    focusAfter = null;
    if (!swapped) return;
    wp.settleDraft(swapped);
    var target = swapped.querySelector("[data-autofocus], [data-undo]") || swapped;
    if (target === swapped && !swapped.hasAttribute("tabindex")) swapped.setAttribute("tabindex", "-1");
    target.focus();
  });

  // --- Copy buttons, dismiss, select all ------------------------------------------------------
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

  document.addEventListener("DOMContentLoaded", function () {
    wp.localize(document);
    wp.restoreDrafts();
    tick();
  });
  setInterval(tick, 1000);
})();
