import { useEffect, useRef, useState } from 'react';
import { requestVerifyToken, verify } from '../api/auth';
import { ApiFailure, errorMessage } from '../api/client';
import { EmailLinkForm, Notice, Page } from '../components';
import { Link, useLocation } from '../router';
import { useSession } from '../session';

type Outcome = { state: 'checking' } | { state: 'verified' } | { state: 'already' } | { state: 'failed'; message: string };

/** Opened from the link of the verification e-mail (`/verify?token=...`), or to ask for a new link. */
export function VerifyPage() {
  const { query } = useLocation();
  const token = query.get('token') ?? '';
  const { user, refresh } = useSession();
  const [outcome, setOutcome] = useState<Outcome | undefined>(token ? { state: 'checking' } : undefined);
  const posted = useRef('');

  useEffect(() => {
    if (!token || posted.current === token) return;
    posted.current = token; // once per token, also under StrictMode's double effects
    setOutcome({ state: 'checking' });
    verify(token)
      .then(async () => {
        setOutcome({ state: 'verified' });
        await refresh();
      })
      .catch((e: unknown) => {
        if (e instanceof ApiFailure && e.code === 'VERIFY_USER_ALREADY_VERIFIED') setOutcome({ state: 'already' });
        else setOutcome({ state: 'failed', message: errorMessage(e) });
      });
  }, [token, refresh]);

  const next = user ? <Link to="/datasets">Go to your datasets</Link> : <Link to="/sign-in">Sign in</Link>;

  return (
    <Page title="Verify your account">
      {outcome?.state === 'checking' ? (
        <p className="loading" role="status">
          Checking your verification link…
        </p>
      ) : null}
      {outcome?.state === 'verified' ? (
        <div className="card narrow">
          <Notice kind="success">Your e-mail address is verified.</Notice>
          <p className="links">{next}</p>
        </div>
      ) : null}
      {outcome?.state === 'already' ? (
        <div className="card narrow">
          <Notice kind="info">This e-mail address is already verified.</Notice>
          <p className="links">{next}</p>
        </div>
      ) : null}
      {outcome?.state === 'failed' ? <Notice kind="error">{outcome.message}</Notice> : null}
      {!outcome || outcome.state === 'failed' ? <RequestLink /> : null}
    </Page>
  );
}

export const VERIFY_SENT = 'If an account with that address still needs verifying, we sent it a new verification link. Check your e-mail.';

function RequestLink() {
  const { user } = useSession();
  return (
    <EmailLinkForm
      className="card narrow ds-card"
      heading="Get a new verification link"
      initialEmail={user?.email ?? ''}
      send={requestVerifyToken}
      sent={VERIFY_SENT}
      submit="Send verification link"
    />
  );
}
