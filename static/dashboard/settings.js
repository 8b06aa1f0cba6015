/* Settings pages: a filter box for the timezone list, and voices limited to the chosen language.
   Both pages work without this file (a plain select of every zone, every voice). */
(function () {
  "use strict";

  // --- timezone picker: type to filter the (long) list of zones ----------------------------------
  function timezonePicker(root) {
    var select = root.querySelector("select");
    if (!select) return;
    var all = Array.prototype.map.call(select.options, function (o) { return { value: o.value, label: o.text }; });
    var filter = document.createElement("input");
    filter.type = "search";
    filter.placeholder = "Search timezones, e.g. Chicago";
    filter.setAttribute("aria-label", "Search timezones");
    filter.setAttribute("aria-controls", select.id);
    filter.className = "tz-filter";
    select.parentNode.insertBefore(filter, select);
    filter.addEventListener("input", function () {
      var words = filter.value.toLowerCase().replace(/_/g, " ").split(/\s+/).filter(Boolean);
      var current = select.value;
      var shown = all.filter(function (o) {
        var text = (o.value + " " + o.label).toLowerCase().replace(/_/g, " ");
        return o.value === current || words.every(function (w) { return text.indexOf(w) !== -1; });
      });
      select.options.length = 0;
      shown.forEach(function (o) { select.add(new Option(o.label, o.value, false, o.value === current)); });
      // One match besides the current zone: pick it, so typing a city is enough.
      var others = shown.filter(function (o) { return o.value !== current; });
      if (words.length && others.length === 1) select.value = others[0].value;
    });
  }

  // --- voices: only those that speak the chosen language ------------------------------------------
  var LANGUAGE_LABEL = /\(([^,]+), (female|male)\)$/;

  function voicePicker(root) {
    var voice = root.querySelector("select");
    var language = document.getElementById("id_language");
    if (!voice || !language) return;
    var all = Array.prototype.map.call(voice.options, function (o) { return { value: o.value, label: o.text }; });
    function languageName() {
      var option = language.options[language.selectedIndex];
      return option ? option.text : "";
    }
    function apply() {
      var wanted = languageName();
      var current = voice.value;
      var shown = all.filter(function (o) {
        var match = o.label.match(LANGUAGE_LABEL);
        return !match || match[1] === wanted;
      });
      voice.options.length = 0;
      shown.forEach(function (o) { voice.add(new Option(o.label, o.value, false, o.value === current)); });
      if (!shown.some(function (o) { return o.value === current; }) && shown.length) voice.value = shown[0].value;
    }
    language.addEventListener("change", apply);
    apply();
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-tz-picker]"), timezonePicker);
    Array.prototype.forEach.call(document.querySelectorAll("[data-voice-for-language]"), voicePicker);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
