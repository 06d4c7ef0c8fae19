// The function editor: CodeMirror (SQL mode, PostgreSQL dialect) on the source textarea; the dry-run and
// shadow forms send the editor's current text as the draft.
(function () {
  "use strict";
  var area = document.querySelector("textarea[data-editor=sql]");
  if (!area || typeof CodeMirror === "undefined") { return; }
  var editor = CodeMirror.fromTextArea(area, {
    mode: "text/x-pgsql", lineNumbers: true, indentUnit: 4, lineWrapping: false, viewportMargin: Infinity
  });
  window.functionEditor = editor;  // for the browser tests and the console
  document.querySelectorAll("form[data-draft-form]").forEach(function (form) {
    form.addEventListener("submit", function () {
      form.querySelector("input[name=source]").value = editor.getValue();
    });
  });
  var line = document.querySelector("[data-test=refusal-line]");
  if (line) {
    var n = parseInt(line.textContent.replace(/\D/g, ""), 10) - 1;
    editor.addLineClass(n, "background", "cm-refused-line");
    editor.scrollIntoView({ line: n, ch: 0 }, 80);
  }
}());
