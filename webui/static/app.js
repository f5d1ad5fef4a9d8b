// oemhost panels: the only script. Confirms destructive buttons and follows jobs live by
// polling /jobs/<id>/status (works behind any proxy and with gunicorn's sync workers).
"use strict";

document.addEventListener("click", function (ev) {
  var btn = ev.target.closest("button[data-confirm]");
  if (btn && !window.confirm(btn.getAttribute("data-confirm"))) { ev.preventDefault(); }
});

function followJob(box) {
  var url = box.getAttribute("data-url");
  var after = 0;
  var statusEl = box.querySelector(".job-status");
  var lastEl = box.querySelector(".job-last");
  var log = box.querySelector(".events");
  function tick() {
    fetch(url + "?after=" + after, {headers: {"Accept": "application/json"},
                                    credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (data) {
        statusEl.textContent = data.status_text;
        statusEl.className = "job-status badge status-" + data.status;
        box.setAttribute("data-status", data.status);
        data.events.forEach(function (e) {
          after = Math.max(after, e.seq);
          if (lastEl && e.summary) { lastEl.textContent = e.summary; }
          if (log) {
            var line = document.createElement("div");
            line.className = e.status || "";
            line.textContent = e.summary;
            log.appendChild(line);
            log.scrollTop = log.scrollHeight;
          }
        });
        if (data.finished) {
          if (lastEl) { lastEl.textContent = data.result_text; }
          var res = box.querySelector(".job-result");
          if (res) { res.textContent = data.result_text; res.hidden = false; }
          return;
        }
        setTimeout(tick, 1000);
      })
      .catch(function () { setTimeout(tick, 5000); });
  }
  tick();
}

document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll(".job-watch[data-url]").forEach(followJob);
});
