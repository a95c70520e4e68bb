import { useState, type FormEvent } from 'react';
import { login, register, requestVerifyToken } from '../api/auth';
import { ApiFailure, errorMessage } from '../api/client';
import { Button, Field, NewPasswordFields, Notice, Page, PASSWORDS_DIFFER } from '../components';
import { Link, navigate } from '../router';
import { useSession } from '../session';

/** Words for the answers of register that the shared wording does not cover. */
function registerError(error: unknown): string {
  if (error instanceof ApiFailure && error.code === 'REGISTER_DISABLED')
    return 'Creating accounts is turned off on this server. Ask an administrator for an account.';
  return errorMessage(error);
}

export function RegisterPage() {
  const { refresh } = useSession();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [done, setDone] = useState<{ kind: 'success' | 'info'; text: string; signIn: boolean } | undefined>(undefined);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError('');
    setDone(undefined);
    if (!email.trim()) return setError('Enter your e-mail address.');
    if (!password) return setError('Choose a password.');
    if (password !== confirm) return setError(PASSWORDS_DIFFER);
    setBusy(true);
    try {
      await register(email.trim(), password);
    } catch (e) {
      setError(registerError(e));
      setBusy(false);
      return;
    }
    // The account exists: sign in with it (the server sets the HttpOnly session cookie; D21).
    try {
      await login(email.trim(), password);
      setDone({ kind: 'success', text: 'Your account was created. Signing you in…', signIn: false });
      await refresh();
      navigate('/datasets', { replace: true });
    } catch (e) {
      if (e instanceof ApiFailure && e.code === 'LOGIN_USER_NOT_VERIFIED') {
        // Ask for the verification e-mail; its answer is neutral whatever happens.
        await requestVerifyToken(email.trim()).catch(() => undefined);
        setDone({
          kind: 'info',
          text: `Your account was created. Verify your e-mail address before signing in: open the link we sent to ${email.trim()}.`,
          signIn: true,
        });
      } else {
        setDone({ kind: 'info', text: `Your account was created, but signing in failed: ${errorMessage(e)}`, signIn: true });
      }
    } finally {
      setBusy(false);
    }
  };

  return (
    <Page title="Create an account">
      {done ? (
        <div className="card narrow">
          <Notice kind={done.kind}>{done.text}</Notice>
          {done.signIn ? (
            <p className="links">
              <Link to="/sign-in">Go to sign in</Link> · <Link to="/verify">Send the verification link again</Link>
            </p>
          ) : null}
        </div>
      ) : (
        <form className="card narrow" onSubmit={submit} noValidate>
          <Field label="E-mail" type="email" name="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} />
          <NewPasswordFields label="Password" password={password} confirm={confirm} onPassword={setPassword} onConfirm={setConfirm} />
          <Notice kind="error">{error}</Notice>
          <Button type="submit" busy={busy}>
            Create account
          </Button>
          <p className="links">
            Already have an account? <Link to="/sign-in">Sign in</Link>
          </p>
        </form>
      )}
    </Page>
  );
}
