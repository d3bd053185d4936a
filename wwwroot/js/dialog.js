// Modal dialogs of the admin side: native <dialog> with showModal() (the browser keeps focus inside
// and closes on Escape), focus moved into it on open and back to what opened it on close.

export const $ = (id) => document.getElementById(id);

const openers = new WeakMap();

export function openDialog(dialog, focus) {
  const opener = document.activeElement;
  openers.set(dialog, opener instanceof HTMLElement ? opener : null);
  if (!dialog.open) dialog.showModal();
  (focus ?? dialog.querySelector("input:not([disabled]):not([hidden]), select:not([disabled]), button:not([disabled])"))?.focus();
}

// Wires the close buttons and the return of focus once, for every admin dialog.
export function setUpDialog(dialog, { onClose } = {}) {
  for (const button of dialog.querySelectorAll("[data-close]")) {
    button.addEventListener("click", () => dialog.close());
  }
  dialog.addEventListener("close", () => {
    onClose?.();
    const opener = openers.get(dialog);
    openers.delete(dialog);
    // A list re-render replaces the opener with a twin of the same id; if it has gone altogether
    // (a kicked user's row), focus goes to the page's heading.
    const target = opener?.isConnected ? opener : opener?.id ? document.getElementById(opener.id) : null;
    if (target && !target.hidden) target.focus();
    else document.getElementById("room-title")?.focus();
  });
}

export function showText(element, text) {
  element.textContent = text ?? "";
}

export function formatWhen(ms) {
  return new Date(ms).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}
