// The operator page's only script: ask before a button that changes something at Valossa.
// Loaded as a file (the Content-Security-Policy forbids inline scripts).
"use strict";
document.addEventListener("submit", (event) => {
  const button = event.submitter;
  const question = button && button.dataset ? button.dataset.confirm : undefined;
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});
