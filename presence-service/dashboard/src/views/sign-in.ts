import { ApiError, type Session, signIn } from '../api.js';
import { h } from '../dom.js';

// The sign-in form (POST /api/session). One message for a wrong name or password, as the
// service gives; the throttle's wait is shown as it says.

export function renderSignIn(
  main: HTMLElement,
  onSignedIn: (session: Session) => void,
  notice?: string,
): void {
  const username = h('input', {
    id: 'username',
    name: 'username',
    autocomplete: 'username',
    required: true,
    autocapitalize: 'none',
    spellcheck: 'false',
  });
  const password = h('input', {
    id: 'password',
    name: 'password',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
  });
  const message = h('p', { class: 'form-error', role: 'alert' }, notice ?? '');
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h(
    'form',
    { class: 'card sign-in', 'aria-labelledby': 'sign-in-title' },
    h('h1', { id: 'sign-in-title', tabindex: '-1' }, 'Sign in'),
    h('p', { class: 'muted' }, 'Gridpresence operations dashboard'),
    h('div', { class: 'field' }, h('label', { for: 'username' }, 'User name'), username),
    h('div', { class: 'field' }, h('label', { for: 'password' }, 'Password'), password),
    message,
    submit,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    submit.disabled = true;
    message.textContent = '';
    try {
      const session = await signIn(username.value.trim(), password.value);
      password.value = '';
      onSignedIn(session);
    } catch (error) {
      const e = error as Error;
      message.textContent =
        e instanceof ApiError && e.status === 401
          ? 'Wrong user name or password.'
          : e instanceof ApiError && e.status === 429
            ? `Too many failed attempts: ${e.message}.`
            : `Sign-in failed: ${e.message}`;
      password.focus();
    } finally {
      submit.disabled = false;
    }
  });
  main.replaceChildren(form);
  username.focus();
}
