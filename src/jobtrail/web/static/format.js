/* Human units for charts, the same as jobtrail.durations.format_duration: "850ms", "4.2s",
   "2m 03s", "3h 05m", "5d 18h"; and escaping for any text that ends up in HTML (tooltips). */
(function () {
  "use strict";
  function pad(n) { return n < 10 ? "0" + n : String(n); }
  function duration(seconds) {
    if (seconds === null || seconds === undefined || !isFinite(seconds)) return "–";
    var sign = seconds < 0 ? "-" : "";
    var s = Math.abs(seconds);
    if (Math.round(s * 1000) < 1000) return sign + Math.round(s * 1000) + "ms";
    if (Math.round(s * 10) / 10 < 10) return sign + s.toFixed(1) + "s";
    var total = Math.round(s);
    var days = Math.floor(total / 86400), rest = total % 86400;
    var hours = Math.floor(rest / 3600); rest %= 3600;
    var minutes = Math.floor(rest / 60), secs = rest % 60;
    if (days) return sign + days + "d " + hours + "h";
    if (hours) return sign + hours + "h " + pad(minutes) + "m";
    if (minutes) return sign + minutes + "m " + pad(secs) + "s";
    return sign + secs + "s";
  }
  var ENTITIES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
  function escape(value) {
    return String(value === null || value === undefined ? "" : value).replace(/[&<>"']/g,
      function (c) { return ENTITIES[c]; });
  }
  function time(ms) {
    if (ms === null || ms === undefined) return "–";
    return new Date(ms).toISOString().replace("T", " ").slice(0, 19) + " UTC";
  }
  function value(unit, v) {
    if (v === null || v === undefined || (typeof v === "number" && !isFinite(v))) return "–";
    if (unit === "duration") return duration(v);
    if (unit === "percent") return (v * 100).toFixed(v < 0.1 ? 1 : 0) + "%";
    if (typeof v === "number") return Math.abs(v) >= 100 || v === Math.round(v) ? String(Math.round(v)) : v.toFixed(2);
    return String(v);
  }
  window.jobtrailFormat = { duration: duration, escape: escape, time: time, value: value };
})();
