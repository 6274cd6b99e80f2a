// Suggestions for 房号 inputs (web/forms.py `unit` widgets): as a number is typed, the estate's
// units whose number contains it fill the input's <datalist>. Without this script the input is a
// plain text box and the server checks the number all the same.
(function () {
  "use strict";
  var WAIT_MS = 200;

  function attach(input) {
    var list = document.getElementById(input.getAttribute("list"));
    var timer = null;
    var asked = "";
    if (!list) { return; }
    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(function () {
        var q = input.value.trim();
        if (!q || q === asked) { return; }
        asked = q;
        var url = input.getAttribute("data-suggest") + "&q=" + encodeURIComponent(q);
        fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
          .then(function (response) { return response.ok ? response.json() : { units: [] }; })
          .then(function (body) {
            while (list.firstChild) { list.removeChild(list.firstChild); }
            (body.units || []).forEach(function (unit) {
              var option = document.createElement("option");
              option.value = unit.number;
              option.label = unit.label;
              list.appendChild(option);
            });
          })
          .catch(function () { /* no suggestions: the typed number is still checked on submit */ });
      }, WAIT_MS);
    });
  }

  document.querySelectorAll("input[data-suggest]").forEach(attach);
}());
