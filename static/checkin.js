// The check-in page's offline mode and camera (docs/checkin.md). The page works without
// this file: a search form and a "Check in" form per person. With it:
// - the list's roster (names and code hashes, never codes) is kept in localStorage and
//   refreshed with If-None-Match; the search runs on it, so it works with no network;
// - a tap on "Check in" or a scanned code is queued in localStorage with a fresh nonce
//   and the time it was made, sent at once when possible, kept when sending fails, and
//   sent again on the `online` event and every few seconds; the server applies each
//   nonce once, so sending twice is harmless;
// - a camera scanner where the browser has the Barcode Detection API.
"use strict";

(function () {
  var root = document.getElementById("checkin");
  if (!root || !window.localStorage || !window.fetch) {
    return;
  }
  var SYNC_EVERY_MS = 5000;
  var rosterUrl = root.dataset.rosterUrl;
  var scansUrl = root.dataset.scansUrl;
  var csrf = root.dataset.csrf;
  var list = root.dataset.list;
  var key = "rallypoint-checkin:" + root.dataset.event + ":" + list + ":";
  var texts = root.dataset;
  var roster = load("roster", null);
  var syncing = false;

  function load(name, fallback) {
    try {
      var value = localStorage.getItem(key + name);
      return value === null ? fallback : JSON.parse(value);
    } catch (e) {
      return fallback;
    }
  }

  function save(name, value) {
    localStorage.setItem(key + name, JSON.stringify(value));
  }

  function text(name, values) {
    var out = texts[name] || "";
    Object.keys(values || {}).forEach(function (k) {
      out = out.split("{" + k + "}").join(values[k]);
    });
    return out;
  }

  function queue() {
    return load("queue", []);
  }

  function nonce() {
    if (window.crypto && crypto.randomUUID) {
      return crypto.randomUUID();
    }
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join("");
  }

  // The folded form searches compare, close to the server's (case and accents; a few
  // letters that do not decompose).
  var LETTERS = { "ł": "l", "ø": "o", "ß": "ss", "đ": "d", "æ": "ae", "œ": "oe", "ı": "i" };
  function fold(value) {
    return value.toLowerCase().normalize("NFD").replace(/[\u0300-\u036f]/g, "")
      .replace(/[łøßđæœı]/g, function (c) { return LETTERS[c]; })
      .replace(/\s+/g, " ").trim();
  }

  function byId(id) {
    return roster && roster.people.filter(function (p) { return p.id === id; })[0];
  }

  // The roster as this phone knows it: the server's, with the queued check-ins applied.
  function applyQueued() {
    if (!roster) {
      return;
    }
    queue().forEach(function (scan) {
      var person = scan.registration ? byId(scan.registration) :
        roster.people.filter(function (p) { return p.code_hash === scan.code_hash; })[0];
      if (person && !person.checked_in_at) {
        person.checked_in_at = scan.scanned_at;
        person.inside = true;
        person.pending = true;
      }
    });
  }

  function showCounts() {
    if (!roster) {
      return;
    }
    var checkedIn = 0;
    var inside = 0;
    roster.people.forEach(function (p) {
      if (p.checked_in_at) { checkedIn += 1; }
      if (p.inside) { inside += 1; }
    });
    document.getElementById("count-expected").textContent = roster.people.length;
    document.getElementById("count-checked-in").textContent = checkedIn;
    document.getElementById("count-inside").textContent = inside;
  }

  function showWaiting() {
    var waiting = queue().length;
    var line = document.getElementById("checkin-sync");
    line.hidden = false;
    line.dataset.waiting = waiting;
    line.textContent = waiting === 0 ? text("tSynced") :
      text(waiting === 1 ? "tWaitingOne" : "tWaitingOther", { count: waiting });
  }

  function say(message, ok) {
    var box = document.getElementById("checkin-results");
    var line = document.createElement("p");
    line.className = "checkin-result checkin-result--" + (ok ? "ok" : "refused");
    line.textContent = message;
    box.insertBefore(line, box.firstChild);
    while (box.childNodes.length > 5) {
      box.removeChild(box.lastChild);
    }
  }

  function when(at) {
    var date = new Date(at);
    return isNaN(date) ? at : date.toLocaleString(texts.lang);
  }

  function sayResult(result) {
    var person = result.person;
    var name = person ? person.first_name + " " + person.last_name : "";
    switch (result.outcome) {
      case "checked_in":
        // A replayed scan whose check-in stands: said once already, or said now.
        say(text("tOutcomeCheckedIn", { name: name }), true);
        break;
      case "re_entered":
        say(text("tOutcomeReEntered", { name: name }), true);
        break;
      case "already_checked_in":
        say(text("tOutcomeAlready", { name: name, at: when(result.checked_in_at) }), false);
        break;
      case "wrong_list":
        say(text("tOutcomeWrongList", { name: name, list: result.belongs_to ? result.belongs_to.name : "" }), false);
        break;
      case "not_active":
        say(text("tOutcomeNotActive", { name: name }), false);
        break;
      case "unknown_code":
        say(text("tOutcomeUnknown"), false);
        break;
      default:
        break;
    }
  }

  function refreshRoster() {
    var headers = { "Accept": "application/json" };
    var etag = load("etag", null);
    if (etag && roster) {
      headers["If-None-Match"] = etag;
    }
    return fetch(rosterUrl, { headers: headers, credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (response.status === 304) {
          return null;
        }
        if (!response.ok) {
          throw new Error("roster " + response.status);
        }
        save("etag", response.headers.get("ETag"));
        return response.json();
      })
      .then(function (fresh) {
        if (fresh) {
          save("roster", fresh);
        }
        roster = load("roster", null);
        applyQueued();
        showCounts();
      });
  }

  function sync() {
    var pending = queue();
    if (syncing || pending.length === 0) {
      showWaiting();
      return Promise.resolve();
    }
    syncing = true;
    var scans = pending.map(function (scan) {
      var body = { direction: "in", nonce: scan.nonce, scanned_at: scan.scanned_at, list: list };
      if (scan.registration) {
        body.registration = scan.registration;
      } else {
        body.code = scan.code;
      }
      return body;
    });
    return fetch(scansUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ scans: scans })
    }).then(function (response) {
      if (response.status === 401 || response.status === 403) {
        say(text("tSignInAgain"), false);
        return null;
      }
      if (response.status === 422) {
        // Scans the server will never take: drop them rather than block the queue.
        forget(pending);
        return null;
      }
      if (!response.ok) {
        return null;
      }
      return response.json().then(function (answer) {
        forget(pending);
        answer.results.forEach(sayResult);
        return refreshRoster();
      });
    }).catch(function () {
      // No network: the scans stay queued for the next try.
    }).then(function () {
      syncing = false;
      showWaiting();
    });
  }

  // Takes the scans that were sent out of the queue (others may have been added since).
  function forget(sent) {
    var nonces = sent.map(function (s) { return s.nonce; });
    save("queue", queue().filter(function (s) { return nonces.indexOf(s.nonce) < 0; }));
  }

  function enqueue(scan) {
    scan.nonce = nonce();
    scan.scanned_at = new Date().toISOString();
    var pending = queue();
    pending.push(scan);
    save("queue", pending);
    applyQueued();
    showCounts();
    showWaiting();
    if (!navigator.onLine) {
      say(text("tQueued", { name: scan.name || "" }), true);
    }
    sync();
  }

  function checkIn(id) {
    var person = byId(id);
    var name = person ? person.first_name + " " + person.last_name : "";
    enqueue({ registration: id, name: name });
    search();
  }

  // The search, on the roster kept here.
  var field = document.getElementById("q");
  var found = document.getElementById("checkin-found");
  function search() {
    var wanted = fold(field.value);
    if (!roster || wanted === "") {
      return;
    }
    var people = roster.people.filter(function (p) {
      return fold(p.first_name + " " + p.last_name).indexOf(wanted) >= 0 ||
        fold(p.last_name + " " + p.first_name).indexOf(wanted) >= 0;
    }).slice(0, 30);
    found.textContent = "";
    if (!navigator.onLine) {
      var note = document.createElement("p");
      note.className = "hint";
      note.textContent = text("tOfflineRoster");
      found.appendChild(note);
    }
    if (people.length === 0) {
      var none = document.createElement("p");
      none.textContent = text("tNoMatch");
      found.appendChild(none);
      return;
    }
    var ul = document.createElement("ul");
    ul.className = "checkin-people";
    people.forEach(function (p) {
      var li = document.createElement("li");
      li.className = "checkin-person";
      li.dataset.id = p.id;
      var name = document.createElement("span");
      name.className = "person__name";
      name.textContent = p.first_name + " " + p.last_name;
      var meta = document.createElement("span");
      meta.className = "person__meta";
      meta.textContent = p.organisation + " · " + p.country;
      li.appendChild(name);
      li.appendChild(meta);
      if (p.checked_in_at) {
        var done = document.createElement("span");
        done.className = "checkin-person__done";
        done.textContent = text("tCheckedInAt", { at: when(p.checked_in_at) });
        li.appendChild(done);
      } else {
        var button = document.createElement("button");
        button.type = "button";
        button.className = "button button--primary checkin-big checkin-person__button";
        button.textContent = text("tCheckIn");
        button.addEventListener("click", function () { checkIn(p.id); });
        li.appendChild(button);
      }
      ul.appendChild(li);
    });
    found.appendChild(ul);
  }

  document.getElementById("checkin-search").addEventListener("submit", function (event) {
    if (roster) {
      event.preventDefault();
      search();
    }
  });
  field.addEventListener("input", search);
  // The forms the server rendered (a search made before this script ran) queue too.
  found.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.classList.contains("checkin-form") && roster) {
      event.preventDefault();
      checkIn(form.elements.registration.value);
    }
  });

  // The camera, where the browser can read QR codes itself.
  function normaliseCode(raw) {
    var code = raw.toUpperCase().replace(/[\s-]/g, "");
    return /^[A-Z2-7]{20}$/.test(code) ? code : null;
  }

  function sha256Hex(value) {
    return crypto.subtle.digest("SHA-256", new TextEncoder().encode(value)).then(function (digest) {
      return Array.prototype.map.call(new Uint8Array(digest), function (b) {
        return (b + 256).toString(16).slice(1);
      }).join("");
    });
  }

  function scanned(raw) {
    var code = normaliseCode(raw);
    if (!code) {
      say(text("tOutcomeUnknown"), false);
      return;
    }
    sha256Hex(code).then(function (hash) {
      var person = roster && roster.people.filter(function (p) { return p.code_hash === hash; })[0];
      if (person && person.checked_in_at) {
        say(text("tOutcomeAlready", { name: person.first_name + " " + person.last_name, at: when(person.checked_in_at) }), false);
        return;
      }
      // Unknown here (another list, or a roster older than the person): the server says.
      enqueue({ code: code, code_hash: hash, name: person ? person.first_name + " " + person.last_name : "" });
    });
  }

  var start = document.getElementById("camera-start");
  if ("BarcodeDetector" in window && navigator.mediaDevices && crypto.subtle) {
    window.BarcodeDetector.getSupportedFormats().then(function (formats) {
      if (formats.indexOf("qr_code") < 0) {
        return;
      }
      var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
      var panel = document.getElementById("camera");
      var video = document.getElementById("camera-video");
      var stream = null;
      var last = { value: "", at: 0 };
      start.hidden = false;
      function stop() {
        if (stream) {
          stream.getTracks().forEach(function (track) { track.stop(); });
        }
        stream = null;
        panel.hidden = true;
        start.hidden = false;
      }
      function look() {
        if (!stream) {
          return;
        }
        detector.detect(video).then(function (codes) {
          var now = Date.now();
          codes.forEach(function (found) {
            // The same code held in front of the camera is one scan, not one a frame.
            if (found.rawValue !== last.value || now - last.at > 3000) {
              scanned(found.rawValue);
            }
            last = { value: found.rawValue, at: now };
          });
        }).catch(function () {}).then(function () { setTimeout(look, 250); });
      }
      start.addEventListener("click", function () {
        navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false })
          .then(function (media) {
            stream = media;
            video.srcObject = media;
            panel.hidden = false;
            start.hidden = true;
            return video.play();
          })
          .then(look)
          .catch(function () {
            stop();
            say(text("tCameraFailed"), false);
          });
      });
      document.getElementById("camera-stop").addEventListener("click", stop);
    }).catch(function () {});
  }

  applyQueued();
  showCounts();
  showWaiting();
  refreshRoster().catch(function () {}).then(sync);
  window.addEventListener("online", sync);
  setInterval(sync, SYNC_EVERY_MS);
})();
