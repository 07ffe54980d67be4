// Live updates without a full reload: every data-refresh seconds the page is fetched again
// and its <main> swapped in, unless the person is typing in one of its fields. Served from
// the binary; the CSP allows scripts from this origin only.
(function () {
  "use strict";
  var body = document.body;
  var secs = parseInt(body.getAttribute("data-refresh") || "0", 10);
  if (!secs || !window.fetch || !window.DOMParser) { return; }
  function typing() {
    var a = document.activeElement;
    return a && (a.tagName === "INPUT" || a.tagName === "TEXTAREA") && a.value !== "";
  }
  function refresh() {
    if (typing()) { return; }
    fetch(window.location.href, { credentials: "same-origin", headers: { "x-console-refresh": "1" } })
      .then(function (r) {
        if (r.redirected && /\/console\/login$/.test(new URL(r.url).pathname)) {
          window.location.assign("/console/login");
          return null;
        }
        return r.ok ? r.text() : null;
      })
      .then(function (html) {
        if (!html) { return; }
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("live");
        var live = document.getElementById("live");
        if (fresh && live && !typing()) {
          live.replaceWith(document.importNode(fresh, true));
          var u = document.getElementById("updated");
          if (u) { u.textContent = "updated " + new Date().toLocaleTimeString(); }
        }
      })
      .catch(function () { /* the next round tries again */ });
  }
  window.setInterval(refresh, secs * 1000);
})();
