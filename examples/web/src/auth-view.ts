import { describeError, rest, session } from './api.js';
import { byId, fields } from './dom.js';

/** The sign-in form: "Sign in" logs in, "Register" creates the account (with a display name) and signs in. */
export function mountAuthForm(): void {
  const form = byId<HTMLFormElement>('auth');
  const error = form.querySelector<HTMLElement>('.error')!;
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const action = ((event as SubmitEvent).submitter as HTMLButtonElement | null)?.value ?? 'login';
    const { email, password, displayName } = fields(form);
    error.textContent = '';
    void (async () => {
      const answer =
        action === 'register'
          ? await rest.POST('/api/v1/auth/register', { body: { email, password, displayName: displayName || email.split('@')[0] } })
          : await rest.POST('/api/v1/auth/login', { body: { email, password } });
      if (!answer.data) {
        error.textContent = describeError(answer.error, answer.response.status);
        return;
      }
      form.reset();
      // The session's change listener (main.ts) takes it from here.
      session.signIn(answer.data);
    })();
  });
}
