/* Live refresh: reload the page every data-refresh seconds while it is visible and "live" is on
   (the choice is remembered in localStorage). */
(function () {
  "use strict";
  var seconds = parseInt(document.body.getAttribute("data-refresh") || "0", 10);
  if (!seconds) return;
  var toggle = document.getElementById("live-toggle");
  var key = "jobtrail.live";
  var on = function () { return !toggle || toggle.checked; };
  try { if (toggle && window.localStorage.getItem(key) === "off") toggle.checked = false; } catch (e) { /* storage off */ }
  if (toggle) {
    toggle.addEventListener("change", function () {
      try { window.localStorage.setItem(key, toggle.checked ? "on" : "off"); } catch (e) { /* storage off */ }
    });
  }
  window.setInterval(function () {
    if (on() && document.visibilityState === "visible") window.location.reload();
  }, seconds * 1000);
})();
