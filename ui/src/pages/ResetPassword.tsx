import { useState, type FormEvent } from 'react';
import { resetPassword } from '../api/auth';
import { ApiFailure, errorMessage } from '../api/client';
import { Button, NewPasswordFields, Notice, Page, PASSWORDS_DIFFER } from '../components';
import { Link, navigate, useLocation } from '../router';

/** Opened from the link of the reset e-mail: `/reset-password?token=...`. */
export function ResetPasswordPage() {
  const { query } = useLocation();
  const token = query.get('token') ?? '';
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [badToken, setBadToken] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError('');
    if (!password) return setError('Choose a new password.');
    if (password !== confirm) return setError(PASSWORDS_DIFFER);
    setBusy(true);
    try {
      await resetPassword(token, password);
      navigate('/sign-in?reset=1', { replace: true });
    } catch (e) {
      if (e instanceof ApiFailure && e.code === 'RESET_PASSWORD_BAD_TOKEN') setBadToken(true);
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };

  if (!token) {
    return (
      <Page title="Reset your password">
        <div className="card narrow">
          <Notice kind="error">This page needs the link from the password reset e-mail. Open that link, or ask for a new one.</Notice>
          <p className="links">
            <Link to="/forgot-password">Ask for a new reset link</Link> · <Link to="/sign-in">Back to sign in</Link>
          </p>
        </div>
      </Page>
    );
  }

  return (
    <Page title="Reset your password">
      <form className="card narrow" onSubmit={submit} noValidate>
        <NewPasswordFields label="New password" password={password} confirm={confirm} onPassword={setPassword} onConfirm={setConfirm} />
        <Notice kind="error">{error}</Notice>
        <Button type="submit" busy={busy}>
          Set new password
        </Button>
        <p className="links">
          {badToken ? (
            <>
              <Link to="/forgot-password">Ask for a new reset link</Link> ·{' '}
            </>
          ) : null}
          <Link to="/sign-in">Back to sign in</Link>
        </p>
      </form>
    </Page>
  );
}
