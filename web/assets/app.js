// Linli web: live updates over server-sent events. The page names its
// stream in <body data-live>; on an event it fetches its own ?frag=1 view
// and swaps #live. An alert's event carries its card, which the alerts
// page draws at once (no second round trip). A new unacknowledged alert
// beeps (WebAudio) and shows a browser notification when allowed.
(function () {
  "use strict";
  var body = document.body;
  var live = body.getAttribute("data-live");
  var box = document.getElementById("live");
  var conn = document.getElementById("conn");
  var audio = null;

  // The audio context is made on the button's tap: browsers let a page
  // sound only after a gesture, and making one takes long enough to hold
  // up drawing the alert itself.
  function unlockAudio() {
    try { audio = audio || new (window.AudioContext || window.webkitAudioContext)(); if (audio.resume) audio.resume(); } catch (e) { /* no sound */ }
  }
  function beep() {
    if (!audio) return;
    try {
      var t = audio.currentTime;
      for (var i = 0; i < 3; i++) {
        var o = audio.createOscillator(), g = audio.createGain();
        o.type = "square"; o.frequency.value = 880;
        g.gain.setValueAtTime(0.2, t + i * 0.4);
        g.gain.setValueAtTime(0, t + i * 0.4 + 0.25);
        o.connect(g); g.connect(audio.destination);
        o.start(t + i * 0.4); o.stop(t + i * 0.4 + 0.3);
      }
    } catch (e) { /* no sound on this browser */ }
  }

  function unacked() {
    var ids = {};
    document.querySelectorAll("[data-alert][data-unacked]").forEach(function (el) { ids[el.getAttribute("data-alert")] = el; });
    return ids;
  }
  var known = unacked();

  function announce() {
    var now = unacked();
    Object.keys(now).forEach(function (id) {
      if (known[id]) return;
      setTimeout(beep, 0); // after the alert is drawn
      if (window.Notification && Notification.permission === "granted") {
        try { new Notification(now[id].getAttribute("data-title") || id, { body: now[id].getAttribute("data-body") || "", tag: id }); } catch (e) { /* ignore */ }
      }
    });
    known = now;
  }

  function pad(n) { return n < 10 ? "0" + n : "" + n; }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-until]").forEach(function (el) {
      var left = Math.round((+el.getAttribute("data-until") - now) / 1000);
      if (left <= 0) { el.textContent = el.getAttribute("data-over") || "0:00"; return; }
      var m = Math.floor(left / 60), s = left % 60;
      el.textContent = (el.getAttribute("data-fmt") || "%s").replace("%s", m + ":" + pad(s));
    });
  }
  setInterval(tick, 1000); tick();

  // pushed: a card was drawn from an event while a fetch was on its way;
  // that fetch's answer may predate it, so it is dropped and fetched again.
  var loading = false, again = false, pushed = false;
  function refresh() {
    if (!box) return;
    if (loading) { again = true; return; }
    loading = true; pushed = false;
    var u = new URL(location.href); u.searchParams.set("frag", "1");
    fetch(u.toString(), { credentials: "same-origin", headers: { "Accept": "text/html" } }).then(function (r) {
      if (r.status === 401 || r.redirected) { location.reload(); return null; }
      return r.ok ? r.text() : null;
    }).then(function (html) {
      if (html !== null && html !== undefined) {
        // Keep what the user is typing: skip the swap while a field of #live has focus.
        var a = document.activeElement;
        if (pushed || (a && box.contains(a) && (a.tagName === "INPUT" || a.tagName === "TEXTAREA" || a.tagName === "SELECT"))) { again = true; }
        else { box.innerHTML = html; tick(); announce(); body.setAttribute("data-updated", String(Date.now())); }
      }
    }).catch(function () {}).then(function () {
      loading = false;
      if (again) { again = false; later(); }
    });
  }
  function later() { refresh(); }

  // card draws the alert card of an event on the alerts page: replaced in
  // place, or a new one on top of the list (unacknowledged first, newest
  // first, as the server orders them) or below the unacknowledged ones; a
  // cleared alert leaves, and the "no alerts" line shows when none is left.
  // No fetch: each fetch is a round trip and work for a busy phone.
  function card(ev) {
    var d;
    try { d = JSON.parse(ev.data); } catch (e) { d = null; }
    if (!box || location.pathname !== "/alerts" || !d || !d.id) { later(); return; }
    if (loading) pushed = true;
    try { draw(d); } catch (e) { later(); } // an old phone's browser: fetch instead
  }
  function draw(d) {
    var id = window.CSS && CSS.escape ? CSS.escape(d.id) : d.id.replace(/[^A-Za-z0-9_-]/g, "");
    var old = box.querySelector('[data-alert="' + id + '"]');
    var none = document.getElementById("noalerts");
    if (d.gone) {
      if (old) old.remove();
    } else {
      var t = document.createElement("template");
      t.innerHTML = (d.html || "").trim();
      var el = t.content.firstElementChild;
      if (!el) { later(); return; }
      if (old) { old.replaceWith(el); }
      else {
        var un = box.querySelectorAll("[data-alert][data-unacked]");
        var after = el.hasAttribute("data-unacked") ? none : (un[un.length - 1] || none);
        if (after) after.after(el); else box.prepend(el);
      }
    }
    if (none) none.hidden = !!box.querySelector("[data-alert]");
    tick(); announce(); body.setAttribute("data-updated", String(Date.now()));
  }

  if (live && window.EventSource) {
    var es = new EventSource(live);
    ["alert", "alert-update"].forEach(function (n) { es.addEventListener(n, card); });
    ["ticket", "wish", "notice", "resync"].forEach(function (n) { es.addEventListener(n, later); });
    // A device's change (online, state, health) only shows on the devices page.
    es.addEventListener("device", function () { if (location.pathname === "/devices") later(); });
    // On the console's other pages a new alert still sounds and notifies.
    es.addEventListener("alert", function () {
      var msg = body.getAttribute("data-newalert");
      if (!msg || document.querySelector("[data-alert]") || location.pathname === "/alerts") return;
      beep();
      if (window.Notification && Notification.permission === "granted") {
        try { var n = new Notification(msg, { tag: "linli-alert" }); n.onclick = function () { location.href = "/alerts"; }; } catch (e) { /* ignore */ }
      }
    });
    es.onopen = function () { if (conn) conn.className = "msg err"; body.setAttribute("data-connected", "1"); };
    es.onerror = function () { if (conn) conn.className = "msg err down"; body.removeAttribute("data-connected"); };
  }

  // The report form: only the chosen category's phrases.
  var cat = document.getElementById("category");
  if (cat) {
    var showPhrases = function () {
      document.querySelectorAll("fieldset[data-cat]").forEach(function (f) {
        var on = f.getAttribute("data-cat") === cat.value;
        f.hidden = !on;
        if (!on) f.querySelectorAll("input").forEach(function (i) { i.checked = false; });
      });
    };
    cat.addEventListener("change", showPhrases); showPhrases();
  }

  var nb = document.getElementById("notify");
  if (nb) {
    if (!window.Notification) nb.style.display = "none";
    nb.addEventListener("click", function () {
      unlockAudio(); beep();
      if (window.Notification && Notification.permission !== "granted") Notification.requestPermission();
    });
  }
})();
