import { useState, type FormEvent } from 'react';
import { login } from '../api/auth';
import { Button, Field, Notice, Page, useAction } from '../components';
import { Link, navigate, useLocation } from '../router';
import { useSession } from '../session';

/** Only same-site page paths are followed after sign-in (no open redirect). */
export function safeNext(next: string | null): string {
  return next && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/\\') ? next : '/datasets';
}

export function SignInPage() {
  const { query } = useLocation();
  const { refresh } = useSession();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const action = useAction();

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const ok = await action.run(async () => {
      // The server sets the HttpOnly session cookie; the token in the answer is not kept (D21).
      await login(email, password);
    });
    if (ok) {
      await refresh();
      navigate(safeNext(query.get('next')), { replace: true });
    }
  };

  return (
    <Page title="Sign in">
      {query.get('expired') ? <Notice kind="info">Your session has ended. Sign in again.</Notice> : null}
      {query.get('reset') ? <Notice kind="success">Your password was changed. Sign in with the new one.</Notice> : null}
      <form className="card narrow" onSubmit={submit} noValidate>
        <Field label="E-mail" type="email" name="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} />
        <Field
          label="Password"
          type="password"
          name="password"
          autoComplete="current-password"
          required
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
        <Notice kind="error">{action.error}</Notice>
        <Button type="submit" busy={action.busy}>
          Sign in
        </Button>
        <p className="links">
          <Link to="/forgot-password">Forgot your password?</Link> · <Link to="/register">Create an account</Link>
        </p>
      </form>
    </Page>
  );
}
