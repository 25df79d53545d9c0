/* The live refresh of the inbox and the detail page (docs/architecture.md, "Dashboard: the
   live list"). Nothing moves under the reviewer: the inbox never inserts or reorders rows —
   new tokens wait behind "N new — show", rows whose state changed are replaced in place at
   their height — and the detail block is replaced only when its token's state changed.
   A draft comment never pauses it (drafts are kept per token); the state line says whether
   the list is live or paused, and why. */
(function () {
  "use strict";
  var wp = (window.wp = window.wp || {});
  var INTERVAL = 5000;
  var generation = 0; // bumped by every htmx request: a refresh begun before it is stale
  var stopped = false;
  var inFlight = false;
  var newIds = [];

  document.addEventListener("htmx:beforeRequest", function () { generation += 1; });

  function setState(kind, text, link) {
    var line = document.getElementById("live-state");
    if (!line) return;
    line.setAttribute("data-state", kind);
    var label = line.querySelector("[data-live-text]");
    label.textContent = text;
    if (link) {
      var anchor = document.createElement("a");
      anchor.href = link.href;
      anchor.textContent = link.text;
      label.appendChild(document.createTextNode(" "));
      label.appendChild(anchor);
    }
  }

  function clock() {
    return new Date().toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  }

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("#inbox-results tr.token-row"));
  }

  function replaceInPlace(current, fresh) {
    var field = current.querySelector("[data-draft]");
    var draft = field && field.value.trim() ? field.value : "";
    var focused = current.contains(document.activeElement);
    var node = document.importNode(fresh, true);
    node.classList.add("is-changed");
    // Keep the row's height so nothing below it moves under the pointer.
    node.style.height = current.getBoundingClientRect().height + "px";
    current.replaceWith(node);
    if (window.htmx) window.htmx.process(node);
    wp.localize(node);
    wp.restoreDrafts(node);
    wp.settleDraft(node, draft);
    if (focused) node.focus();
  }

  function announce(doc, shown) {
    var onScreen = {};
    var newest = "";
    shown.forEach(function (row) {
      onScreen[row.getAttribute("data-token")] = true;
      var created = row.getAttribute("data-created") || "";
      if (Date.parse(created) > Date.parse(newest || 0)) newest = created;
    });
    newIds = [];
    doc.querySelectorAll("[data-page-ids] li").forEach(function (item) {
      var id = item.getAttribute("data-id");
      if (onScreen[id]) return;
      if (!newest || Date.parse(item.getAttribute("data-created")) > Date.parse(newest)) newIds.push(id);
    });
    var button = document.querySelector("[data-show-new]");
    if (!button) return;
    button.hidden = newIds.length === 0;
    button.textContent = newIds.length + " new — show";
  }

  function fail(response) {
    if (response.status === 401) {
      stopped = true;
      var login = response.headers.get("HX-Redirect") || "/accounts/login/";
      setState("paused", "Paused: your session has ended.", { href: login, text: "Log in again" });
      return;
    }
    setState("paused", "Paused: the server did not answer (" + response.status + "); retrying.");
  }

  function fetchPartial(url) {
    return fetch(url, {
      headers: { "HX-Request": "true", "HX-Current-URL": location.href },
      credentials: "same-origin",
      cache: "no-store",
      redirect: "manual",
    });
  }

  function refreshInbox() {
    var shown = rows();
    var url = new URL(location.href);
    url.searchParams.delete("ids");
    url.searchParams.set("refresh", "1");
    shown.forEach(function (row) { url.searchParams.append("shown", row.getAttribute("data-token")); });
    var started = generation;
    return fetchPartial(url).then(function (response) {
      if (!response.ok) return fail(response);
      return response.text().then(function (html) {
        if (started !== generation) return; // an action or filter answered meanwhile: its rows win
        var doc = new DOMParser().parseFromString(html, "text/html");
        doc.querySelectorAll("tr.token-row").forEach(function (fresh) {
          var current = document.getElementById(fresh.id);
          if (current && current.getAttribute("data-state") !== fresh.getAttribute("data-state")) {
            replaceInPlace(current, fresh);
          }
        });
        announce(doc, rows());
        setState("live", "Live: checked at " + clock() + ".");
        counted();
      });
    });
  }

  function refreshDetail(block) {
    var started = generation;
    return fetchPartial(block.getAttribute("data-live-detail")).then(function (response) {
      if (!response.ok) return fail(response);
      return response.text().then(function (html) {
        if (started !== generation) return;
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("token-detail");
        if (!fresh || fresh.getAttribute("data-state") === block.getAttribute("data-state")) return;
        var field = block.querySelector("[data-draft]");
        var draft = field && field.value.trim() ? field.value : "";
        var node = document.importNode(fresh, true);
        block.replaceWith(node);
        if (window.htmx) window.htmx.process(node);
        wp.localize(node);
        wp.restoreDrafts(node);
        wp.settleDraft(node, draft);
      });
    }).then(counted);
  }

  // How many refreshes completed: lets a reader (and the browser tests) see one happened.
  function counted() {
    var line = document.getElementById("live-state");
    if (line) line.setAttribute("data-refreshes", String(Number(line.getAttribute("data-refreshes") || 0) + 1));
  }

  function refresh() {
    if (stopped || inFlight) return;
    if (document.hidden) {
      setState("paused", "Paused while this tab is in the background.");
      return;
    }
    var block = document.querySelector("[data-live-detail]");
    var work = document.querySelector("[data-live-inbox]") ? refreshInbox() : block ? refreshDetail(block) : null;
    if (!work) return;
    inFlight = true;
    work.catch(function () {
      setState("paused", "Paused: the server cannot be reached; retrying.");
    }).then(function () { inFlight = false; });
  }

  function showNew() {
    var checked = Array.prototype.map.call(
      document.querySelectorAll("#inbox-results input[name=ids]:checked"), function (box) { return box.value; });
    var button = document.querySelector("[data-show-new]");
    window.htmx.ajax("GET", location.pathname + location.search, {
      target: "#inbox-results", swap: "outerHTML", source: button,
    }).then(function () {
      checked.forEach(function (id) {
        var box = document.querySelector('#inbox-results input[name=ids][value="' + id + '"]');
        if (box) box.checked = true;
      });
      button.hidden = true;
      var first = document.querySelector("#inbox-results tr.token-row");
      if (first) first.focus();
    });
  }

  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-show-new]")) showNew();
  });
  // A filter, page link or bulk action re-rendered the table: the next refresh recounts.
  document.addEventListener("htmx:afterSwap", function (event) {
    var button = document.querySelector("[data-show-new]");
    if (button && event.detail.target && event.detail.target.id === "inbox-results") button.hidden = true;
  });
  document.addEventListener("visibilitychange", function () { if (!document.hidden) refresh(); });
  document.addEventListener("DOMContentLoaded", function () {
    if (!document.querySelector("[data-live-inbox], [data-live-detail]")) return;
    setInterval(refresh, INTERVAL);
  });
})();
