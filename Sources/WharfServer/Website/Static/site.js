// Wharf's small progressive enhancements: copy buttons and confirmations. Every page works without it.
"use strict";
document.addEventListener("click", async (event) => {
  const button = event.target.closest("button.copy");
  if (!button) return;
  const source = document.querySelector(button.dataset.copy);
  if (!source) return;
  try {
    await navigator.clipboard.writeText(source.textContent.trim());
    button.textContent = "Copied";
  } catch {
    const range = document.createRange();
    range.selectNodeContents(source);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    button.textContent = "Press Ctrl+C";
  }
  setTimeout(() => { button.textContent = "Copy"; }, 2000);
});
document.addEventListener("submit", (event) => {
  const message = event.target.dataset.confirm;
  if (message && !window.confirm(message)) event.preventDefault();
});
// A running build's log grows in place (the page reloads when the build ends, to show its status).
const buildLog = document.querySelector("pre[data-log-url]");
if (buildLog && buildLog.dataset.running === "true" && window.fetch && window.TextDecoder) {
  (async () => {
    try {
      const response = await fetch(buildLog.dataset.logUrl, { credentials: "same-origin" });
      if (!response.ok || !response.body) return;
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      const code = buildLog.querySelector("code") || buildLog;
      code.textContent = "";
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        code.textContent += decoder.decode(value, { stream: true });
        buildLog.scrollTop = buildLog.scrollHeight;
      }
      window.location.reload();
    } catch {
      // The log stays as the page showed it; Refresh shows more.
    }
  })();
}
