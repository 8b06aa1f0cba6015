/* SalesAgents dashboard: small progressive enhancements. Every page works without this file;
   it adds the mobile menu, table row removal, the script preview and the simulator's speech. */
(function () {
  "use strict";

  function on(type, selector, handler) {
    document.addEventListener(type, function (event) {
      var target = event.target.closest ? event.target.closest(selector) : null;
      if (target) handler(event, target);
    });
  }

  // --- mobile navigation ------------------------------------------------------------------------
  on("click", "[data-nav-toggle]", function (event, button) {
    var sidebar = document.getElementById(button.getAttribute("aria-controls"));
    var open = sidebar.classList.toggle("is-open");
    button.setAttribute("aria-expanded", String(open));
    if (open) {
      var first = sidebar.querySelector("a, button");
      if (first) first.focus();
    }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    var sidebar = document.querySelector(".sidebar.is-open");
    if (!sidebar) return;
    sidebar.classList.remove("is-open");
    var toggle = document.querySelector("[data-nav-toggle]");
    if (toggle) { toggle.setAttribute("aria-expanded", "false"); toggle.focus(); }
  });

  // --- editable tables: remove a row that was never saved ----------------------------------------
  on("click", "[data-remove-row]", function (event, button) {
    var row = button.closest("tr");
    var body = row && row.parentElement;
    if (!row) return;
    var next = row.nextElementSibling || row.previousElementSibling;
    row.remove();
    var focusTarget = next ? next.querySelector("input, textarea") : null;
    if (!focusTarget && body) {
      var add = body.closest("form").querySelector("[hx-get]");
      focusTarget = add;
    }
    if (focusTarget) focusTarget.focus();
  });
  // A row added by HTMX gets the focus, so a keyboard user can type straight away.
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (target && target.tagName === "TBODY") {
      var rows = target.querySelectorAll("tr");
      var input = rows.length ? rows[rows.length - 1].querySelector("input") : null;
      if (input) input.focus();
    }
  });

  // --- script editor: placeholders and live preview ----------------------------------------------
  var PLACEHOLDER = /\[\s*(agent[ _]?name|name|agent|company[ _]?name|company)\s*\]/gi;

  function escapeHtml(text) {
    return text.replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function renderPreview(preview) {
    var source = document.getElementById(preview.dataset.source);
    if (!source) return;
    var text = source.value.trim();
    if (!text) {
      preview.innerHTML = '<span class="muted">Type a script to see it here.</span>';
      return;
    }
    var name = preview.dataset.name || "the agent";
    var company = preview.dataset.company || "your company";
    preview.innerHTML = escapeHtml(text).replace(PLACEHOLDER, function (match, key) {
      var value = /company/i.test(key) ? company : name;
      return "<mark>" + escapeHtml(value) + "</mark>";
    });
    var counter = document.querySelector('[data-word-count="' + source.id + '"]');
    if (counter) {
      var words = text.split(/\s+/).filter(Boolean).length;
      counter.textContent = words + " word" + (words === 1 ? "" : "s") + (words < 60 ? " · 60 for full marks" : " · full marks");
    }
  }

  function refreshPreviews() {
    document.querySelectorAll("[data-script-preview]").forEach(renderPreview);
  }
  on("input", "textarea", function (event, area) {
    document.querySelectorAll('[data-script-preview][data-source="' + area.id + '"]').forEach(renderPreview);
  });
  on("click", "[data-insert]", function (event, button) {
    var area = document.getElementById(button.dataset.target);
    if (!area) return;
    var start = area.selectionStart || 0;
    var end = area.selectionEnd || 0;
    var token = button.dataset.insert;
    area.value = area.value.slice(0, start) + token + area.value.slice(end);
    area.focus();
    area.setSelectionRange(start + token.length, start + token.length);
    area.dispatchEvent(new Event("input", { bubbles: true }));
  });

  // --- sign-up: preselect the browser's timezone --------------------------------------------------
  function detectTimezone() {
    var select = document.querySelector("[data-detect-timezone] select");
    if (!select || select.value !== "UTC" || !window.Intl) return;
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && select.querySelector('option[value="' + zone + '"]')) select.value = zone;
  }

  // --- simulator: suggestions, speech out (speechSynthesis), speech in (SpeechRecognition) --------
  var SPEAK_KEY = "salesagents.speakReplies";

  function speakingEnabled() {
    try { return window.localStorage.getItem(SPEAK_KEY) === "1"; } catch (e) { return false; }
  }

  function speak(turns) {
    if (!speakingEnabled() || !("speechSynthesis" in window)) return;
    turns.forEach(function (turn) {
      var bubble = turn.querySelector(".turn-bubble");
      if (bubble && bubble.textContent.trim()) {
        window.speechSynthesis.speak(new SpeechSynthesisUtterance(bubble.textContent.trim()));
      }
    });
  }

  function scrollTranscript() {
    var transcript = document.getElementById("transcript");
    if (transcript) transcript.scrollTop = transcript.scrollHeight;
  }

  on("change", "[data-speak-toggle]", function (event, box) {
    try { window.localStorage.setItem(SPEAK_KEY, box.checked ? "1" : "0"); } catch (e) { /* private mode */ }
    if (!box.checked && "speechSynthesis" in window) window.speechSynthesis.cancel();
  });

  on("click", "[data-say-suggestion]", function (event, button) {
    var input = document.querySelector("[data-say-input]");
    if (input) {
      input.value = button.textContent.trim();
      input.focus();
    } else {
      var dial = document.querySelector("[data-dial]");
      if (dial) dial.focus();
    }
  });

  var Recognition = window.SpeechRecognition || window.webkitSpeechRecognition;

  function setUpMic() {
    var button = document.querySelector("[data-mic]");
    if (!button || !Recognition || button.dataset.ready) return;
    button.dataset.ready = "1";
    button.hidden = false;
    var recognition = null;
    button.addEventListener("click", function () {
      if (recognition) { recognition.stop(); return; }
      recognition = new Recognition();
      recognition.lang = document.documentElement.lang === "en" ? "en-US" : document.documentElement.lang;
      recognition.interimResults = true;
      var input = document.querySelector("[data-say-input]");
      button.setAttribute("aria-pressed", "true");
      recognition.onresult = function (e) {
        var text = "";
        for (var i = 0; i < e.results.length; i++) text += e.results[i][0].transcript;
        input.value = text;
        if (e.results[e.results.length - 1].isFinal) {
          recognition.stop();
          input.form.requestSubmit();
        }
      };
      recognition.onend = recognition.onerror = function () {
        button.setAttribute("aria-pressed", "false");
        recognition = null;
      };
      recognition.start();
    });
  }

  function afterSimulatorChange(newTurns) {
    scrollTranscript();
    setUpMic();
    var input = document.querySelector("[data-say-input]");
    if (input) input.focus();
    speak(newTurns);
  }

  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail.target;
    if (!target) return;
    if (target.id === "transcript") {
      var turns = Array.prototype.slice.call(target.querySelectorAll("[data-speak]:not([data-spoken])"));
      turns.forEach(function (t) { t.setAttribute("data-spoken", ""); });
      afterSimulatorChange(turns);
    } else if (target.id === "sim-phone" || target.closest("#sim-phone") || document.getElementById("sim-phone") === target) {
      var all = Array.prototype.slice.call(document.querySelectorAll("#transcript [data-speak]"));
      all.forEach(function (t) { t.setAttribute("data-spoken", ""); });
      afterSimulatorChange(all);
    }
  });

  function init() {
    refreshPreviews();
    detectTimezone();
    setUpMic();
    scrollTranscript();
    document.querySelectorAll("#transcript [data-speak]").forEach(function (t) { t.setAttribute("data-spoken", ""); });
    var toggle = document.querySelector("[data-speak-toggle]");
    if (toggle) {
      toggle.checked = speakingEnabled();
      if (!("speechSynthesis" in window)) toggle.closest(".field").hidden = true;
    }
  }
  // --- meters: widths and positions come as data attributes --------------------------------------
  // The Content-Security-Policy forbids inline style attributes, so the server writes
  // data-width / data-left (percent) and they are applied here, also to HTMX-swapped content.
  function percent(value) {
    var number = parseFloat(value);
    if (isNaN(number)) return null;
    return Math.max(0, Math.min(100, number)) + "%";
  }
  function applyGeometry(root) {
    if (!root || !root.querySelectorAll) return;
    var nodes = Array.prototype.slice.call(root.querySelectorAll("[data-width], [data-left]"));
    if (root.matches && root.matches("[data-width], [data-left]")) nodes.push(root);
    nodes.forEach(function (node) {
      var width = percent(node.getAttribute("data-width"));
      var left = percent(node.getAttribute("data-left"));
      if (width !== null) node.style.width = width;
      if (left !== null) node.style.left = left;
    });
  }
  applyGeometry(document);
  document.addEventListener("DOMContentLoaded", function () { applyGeometry(document); });
  document.addEventListener("htmx:load", function (event) { applyGeometry(event.detail.elt); });

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
