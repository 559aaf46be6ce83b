// The booking page follows its calls live: GET /events sends each changed call's card, drawn by the
// server with the lists' own template, and this puts it in its place. No polling: the stream says
// when something changed, and the browser reconnects by itself, naming the last change it had.
(function () {
  var calls = document.getElementById("calls");
  if (!calls || !window.EventSource) return;
  var note = document.getElementById("reconnecting");
  var announcements = document.getElementById("announcements");
  var after = calls.dataset.after;
  var redrawing = false;
  var RETRY_MS = 5000;  // only after the server refused the stream; a dropped one the browser retries itself

  function url() {
    var query = "?after=" + encodeURIComponent(after);
    if (calls.dataset.owner) query += "&owner=" + encodeURIComponent(calls.dataset.owner);
    return calls.dataset.events + query;
  }

  // A list that was empty has no table to put the card in: draw both lists once, as the server has them.
  function redraw() {
    if (redrawing) return;
    redrawing = true;
    fetch(calls.dataset.refresh, {headers: {"Accept": "text/html"}})
      .then(function (r) {
        if (r.redirected) { window.location.reload(); return null; }  // signed out: the page says so
        return r.ok ? r.text() : null;
      })
      .then(function (html) { if (html !== null) calls.innerHTML = html; })
      .catch(function () {})
      .finally(function () { redrawing = false; });
  }

  function cardOf(html) {
    var body = document.createElement("tbody");
    body.innerHTML = html.trim();
    return body.firstElementChild;
  }

  function comesBefore(row, card) {
    var due = parseFloat(row.dataset.due), cardDue = parseFloat(card.dataset.due);
    return due < cardDue || (due === cardDue && parseInt(row.id.slice(5), 10) < parseInt(card.id.slice(5), 10));
  }

  function place(card, section) {
    var list = document.getElementById(section + "-calls");
    if (!list) { redraw(); return; }
    var old = document.getElementById(card.id), left = old && old.parentElement;
    if (old) {
      if (old.classList.contains("booked")) card.classList.add("booked");
      old.remove();
    }
    if (section === "recent") {
      list.insertBefore(card, list.firstElementChild);
    } else {
      var next = Array.prototype.find.call(list.children, function (row) { return !comesBefore(row, card); });
      list.insertBefore(card, next || null);
    }
    if (left && !left.children.length) showEmpty(left);
  }

  // The last call gone from a list: it says it is empty, as the server draws an empty list.
  function showEmpty(list) {
    var empty = document.createElement("p");
    empty.className = "empty";
    empty.textContent = list.dataset.empty;
    list.closest("table").replaceWith(empty);
  }

  function announce(text) {
    if (!text || !announcements) return;
    announcements.textContent = text;
  }

  function connect() {
    var source = new EventSource(url());
    source.addEventListener("open", function () { note.hidden = true; });
    source.addEventListener("error", function () {
      note.hidden = false;
      if (source.readyState !== EventSource.CLOSED) return;
      redraw();  // refused: a page signed out meanwhile goes to the sign-in page
      setTimeout(connect, RETRY_MS);
    });
    // The page missed more than the service goes back over: it draws its lists as they are now.
    source.addEventListener("reset", function (event) {
      after = event.lastEventId;
      redraw();
    });
    source.addEventListener("call", function (event) {
      if (event.lastEventId) after = event.lastEventId;
      var change = JSON.parse(event.data);
      place(cardOf(change.html), change.section);
      announce(change.announce);
    });
  }

  connect();
})();
