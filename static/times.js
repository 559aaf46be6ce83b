// Times on the viewer's own clock. The server writes each call's time as the booker saw it
// (the fallback without JavaScript); here it becomes the viewer's wall time and how far off it is,
// the booker's wording moving to the title. A local timer keeps "in 3 min" true without asking
// the server, and rows the server draws again are rewritten as they arrive.
(function () {
  var FRESH_MS = 30000;
  var PARTS = {weekday: "short", day: "2-digit", month: "short", year: "numeric", hour: "2-digit",
    minute: "2-digit", second: "2-digit", hourCycle: "h23", timeZoneName: "short"};
  // [unit, its length in seconds, how many of it before the next unit reads better]
  var UNITS = [["second", 1, 60], ["minute", 60, 60], ["hour", 3600, 24], ["day", 86400, Infinity]];
  var wall = new Intl.DateTimeFormat("en-US", PARTS);
  var relative = new Intl.RelativeTimeFormat("en", {numeric: "auto", style: "short"});

  // Shaped as the server writes times ("Tue 24 Nov 2026, 09:01:00 UTC"), so both read alike.
  function wallTime(moment) {
    var p = {};
    wall.formatToParts(moment).forEach(function (part) { p[part.type] = part.value; });
    return p.weekday + " " + p.day + " " + p.month + " " + p.year + ", " +
      p.hour + ":" + p.minute + ":" + p.second + " " + p.timeZoneName;
  }

  function fromNow(moment) {
    var seconds = (moment.getTime() - Date.now()) / 1000;
    for (var i = 0; i < UNITS.length; i++) {
      var count = Math.round(seconds / UNITS[i][1]);
      if (Math.abs(count) < UNITS[i][2]) return relative.format(count, UNITS[i][0]);
    }
    return "";
  }

  function localise(element) {
    var moment = new Date(element.getAttribute("datetime"));
    if (isNaN(moment.getTime())) return;
    if (!element.title) element.title = "Booked as " + element.textContent + " (the booker's time)";
    var text = wallTime(moment) + " · " + fromNow(moment).replace(/ /g, "\u00a0");  // "in 1 hr." on one line
    if (element.textContent !== text) element.textContent = text;  // unchanged text stirs no observer
  }

  function localiseAll() {
    document.querySelectorAll("#calls time[datetime], .call-facts time[datetime]").forEach(localise);
  }

  localiseAll();
  setInterval(localiseAll, FRESH_MS);
  var calls = document.getElementById("calls");
  if (calls) new MutationObserver(localiseAll).observe(calls, {childList: true, subtree: true});
})();
