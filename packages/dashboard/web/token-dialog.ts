/**
 * Asks for the API token the first time an action needs it, in a modal dialog (keyboard and
 * screen-reader friendly by the platform). The token then stays in this tab's session only.
 */
import { setToken, token } from './api.js';
import { byId } from './dom.js';

/** The token, asking for it when the tab has none; null when the operator cancels. */
export function ensureToken(): Promise<string | null> {
  const known = token();
  if (known !== null) return Promise.resolve(known);
  const dialog = byId<HTMLDialogElement>('token-dialog');
  const input = byId<HTMLInputElement>('token-input');
  input.value = '';
  dialog.showModal();
  input.focus();
  return new Promise((resolve) => {
    dialog.addEventListener(
      'close',
      () => {
        const value = dialog.returnValue === 'ok' ? input.value.trim() : '';
        input.value = '';
        if (value === '') return resolve(null);
        setToken(value);
        updateTokenState();
        resolve(value);
      },
      { once: true },
    );
  });
}

/** Shows whether the tab holds a token, with a way to forget it. */
export function updateTokenState(): void {
  const has = token() !== null;
  byId('token-state').textContent = has ? 'API token set for this tab' : 'read-only (actions ask for the API token)';
  byId<HTMLButtonElement>('token-forget').hidden = !has;
}

/** A wrong token is forgotten, so the next action asks again. */
export function forgetToken(): void {
  setToken(null);
  updateTokenState();
}
