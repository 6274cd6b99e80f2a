/* The definitions editor (web/templates/authoring/edit.html): line numbers beside the text, and the
 * problems of the text as it is typed, asked of the server (POST /admin/workflows/validate, the same
 * check as `estateflow validate`) 400 ms after the last key, the older request aborted. The page works
 * without this script: saving posts the form and the page lists the saved text's problems. */
(function () {
  "use strict";

  var DELAY = 400;
  var INDENT = "  ";

  function start(text) {
    var gutter = text.parentNode.querySelector(".editor-gutter");
    var status = document.getElementById("editor-status");
    var list = document.getElementById("editor-problems");
    var token = document.querySelector('meta[name="csrf-token"]');
    var timer = null;
    var pending = null;
    var marks = {};

    function lineCount() {
      return text.value.split("\n").length;
    }

    function drawGutter() {
      var count = lineCount();
      var fragment = document.createDocumentFragment();
      for (var n = 1; n <= count; n++) {
        var number = document.createElement("span");
        number.textContent = String(n);
        if (marks[n]) {
          number.className = "problem";
          number.title = marks[n].join("\n");
        }
        fragment.appendChild(number);
      }
      gutter.textContent = "";
      gutter.appendChild(fragment);
      gutter.scrollTop = text.scrollTop;
    }

    function jumpTo(line, column) {
      var lines = text.value.split("\n");
      var offset = 0;
      for (var i = 0; i < line - 1 && i < lines.length; i++) {
        offset += lines[i].length + 1;
      }
      var within = Math.min(Math.max(column - 1, 0), (lines[line - 1] || "").length);
      text.focus();
      text.setSelectionRange(offset + within, offset + within);
      var height = parseFloat(window.getComputedStyle(text).lineHeight) || 20;
      text.scrollTop = Math.max(0, (line - 3) * height);
      gutter.scrollTop = text.scrollTop;
    }

    function describe(problem) {
      var where = "行 " + problem.line + " 列 " + problem.column + "：";
      return where + (problem.path ? problem.path + "：" : "") + problem.message;
    }

    function show(problems) {
      marks = {};
      list.textContent = "";
      problems.forEach(function (problem) {
        (marks[problem.line] = marks[problem.line] || []).push(problem.message);
        var item = document.createElement("li");
        var button = document.createElement("button");
        button.type = "button";
        button.className = "editor-jump";
        button.textContent = describe(problem);
        button.dataset.line = problem.line;
        button.dataset.column = problem.column;
        item.appendChild(button);
        list.appendChild(item);
      });
      status.textContent = problems.length ? problems.length + " 个问题" : "没有问题";
      status.classList.toggle("has-problems", problems.length > 0);
      drawGutter();
    }

    function check() {
      if (pending) {
        pending.abort();
      }
      pending = new AbortController();
      var body = new FormData();
      body.append("source", text.value);
      body.append("path", text.dataset.path);
      body.append("kind", text.dataset.kind);
      body.append("estate", text.dataset.estate || "");
      status.textContent = "正在检查…";
      fetch(text.dataset.validateUrl, {
        method: "POST",
        body: body,
        credentials: "same-origin",
        headers: {"X-CSRFToken": token ? token.content : "", "Accept": "application/json"},
        signal: pending.signal
      }).then(function (response) {
        if (!response.ok) {
          throw new Error(String(response.status));
        }
        return response.json();
      }).then(function (answer) {
        pending = null;
        show(answer.problems);
      }).catch(function (error) {
        if (error.name !== "AbortError") {
          status.textContent = "暂时无法检查（" + error.message + "），保存草稿后可看到问题";
        }
      });
    }

    text.addEventListener("input", function () {
      drawGutter();
      clearTimeout(timer);
      timer = setTimeout(check, DELAY);
    });
    text.addEventListener("scroll", function () {
      gutter.scrollTop = text.scrollTop;
    });
    text.addEventListener("keydown", function (event) {
      if (event.key !== "Tab" || event.shiftKey || event.altKey || event.ctrlKey || event.metaKey) {
        return;  // Shift+Tab still leaves the editor, so the keyboard never gets stuck in it
      }
      event.preventDefault();
      var from = text.selectionStart;
      text.setRangeText(INDENT, from, text.selectionEnd, "end");
      text.dispatchEvent(new Event("input"));
    });
    list.addEventListener("click", function (event) {
      var button = event.target.closest(".editor-jump");
      if (button) {
        jumpTo(Number(button.dataset.line), Number(button.dataset.column));
      }
    });
    list.querySelectorAll(".editor-jump").forEach(function (button) {
      var line = Number(button.dataset.line);
      (marks[line] = marks[line] || []).push(button.dataset.message);
    });
    drawGutter();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("textarea.editor-text").forEach(start);
  });
})();
