import { useState, type FormEvent } from 'react';
import { postJson } from '../api';
import { Button, Field, Notice, Page, useAction } from '../components';
import { Link } from '../router';

/** The answer is the same whether or not the account exists: the page never tells which. */
export const RESET_SENT = 'If an account exists for that address, we sent a link to reset its password. Check your e-mail.';

export function ForgotPasswordPage() {
  const [email, setEmail] = useState('');
  const action = useAction();

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    await action.run(async () => {
      if (!email.trim()) throw new Error('Enter your e-mail address.');
      await postJson('/api/v1/auth/forgot-password', { email: email.trim() });
      return RESET_SENT;
    });
  };

  return (
    <Page title="Forgot your password?">
      <form className="card narrow" onSubmit={submit} noValidate>
        <p className="account-lead">Enter the e-mail address of your account and we will send you a link to choose a new password.</p>
        <Field label="E-mail" type="email" name="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} />
        <Notice kind="error">{action.error}</Notice>
        <Notice kind="success">{action.success}</Notice>
        <Button type="submit" busy={action.busy}>
          Send reset link
        </Button>
        <p className="links">
          <Link to="/sign-in">Back to sign in</Link>
        </p>
      </form>
    </Page>
  );
}
