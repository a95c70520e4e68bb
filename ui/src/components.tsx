import { useCallback, useEffect, useId, useRef, useState, type ButtonHTMLAttributes, type FormEvent, type InputHTMLAttributes, type ReactNode } from 'react';
import { errorMessage } from './api/client';
import { Link } from './router';

/** Shared building blocks of every page: accessible by construction (labels, live regions). */

export function Page({ title, children, actions }: { title: string; children: ReactNode; actions?: ReactNode }) {
  useEffect(() => {
    document.title = `${title} · Engram`;
  }, [title]);
  return (
    <section className="page" aria-labelledby="page-title">
      <div className="page-head">
        <h1 id="page-title">{title}</h1>
        {actions ? <div className="page-actions">{actions}</div> : null}
      </div>
      {children}
    </section>
  );
}

/** An error (role=alert) or a success/info message (role=status). */
export function Notice({ kind, children }: { kind: 'error' | 'success' | 'info'; children: ReactNode }) {
  if (!children) return null;
  return (
    <div className={`notice notice-${kind}`} role={kind === 'error' ? 'alert' : 'status'}>
      {children}
    </div>
  );
}

export function Field({ label, hint, ...input }: InputHTMLAttributes<HTMLInputElement> & { label: string; hint?: string }) {
  const id = useId();
  const hintId = hint ? `${id}-hint` : undefined;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input id={id} aria-describedby={hintId} {...input} />
      {hint ? (
        <p className="hint" id={hintId}>
          {hint}
        </p>
      ) : null}
    </div>
  );
}

/** Said when a new password and its confirmation differ. */
export const PASSWORDS_DIFFER = 'The two passwords do not match.';

/** A new password and its confirmation ("Password" / "Confirm password"), with the policy hint. */
export function NewPasswordFields({
  label,
  password,
  confirm,
  onPassword,
  onConfirm,
}: {
  label: string;
  password: string;
  confirm: string;
  onPassword: (value: string) => void;
  onConfirm: (value: string) => void;
}) {
  return (
    <>
      <Field
        label={label}
        type="password"
        name="password"
        autoComplete="new-password"
        required
        hint="Use a long password that is not a common one and does not contain your e-mail address."
        value={password}
        onChange={(e) => onPassword(e.target.value)}
      />
      <Field
        label={`Confirm ${label.charAt(0).toLowerCase()}${label.slice(1)}`}
        type="password"
        name="confirm"
        autoComplete="new-password"
        required
        value={confirm}
        onChange={(e) => onConfirm(e.target.value)}
      />
    </>
  );
}

export function Button({ busy, children, className, ...rest }: ButtonHTMLAttributes<HTMLButtonElement> & { busy?: boolean }) {
  return (
    <button className={className ?? 'button'} disabled={busy || rest.disabled} aria-busy={busy || undefined} {...rest}>
      {children}
    </button>
  );
}

/** A form in a card, named by its heading (h3), ending with its submit button. */
export function FormCard({
  heading,
  submit,
  busy,
  onSubmit,
  children,
}: {
  heading: string;
  /** The submit button's text. */
  submit: string;
  busy: boolean;
  onSubmit: (event: FormEvent<HTMLFormElement>) => void;
  children: ReactNode;
}) {
  const headingId = useId();
  return (
    <form className="card adm-card" onSubmit={onSubmit} noValidate aria-labelledby={headingId}>
      <h3 id={headingId}>{heading}</h3>
      {children}
      <Button type="submit" busy={busy}>
        {submit}
      </Button>
    </form>
  );
}

/**
 * Asks for an e-mail address and hands it to `send` to have a link sent there; `sent` is
 * said afterwards (the same whether or not the account exists). Ends with a link back to sign-in.
 */
export function EmailLinkForm({
  send,
  sent,
  submit,
  initialEmail = '',
  className,
  heading,
  lead,
}: {
  /** Asks the server for the link (an api/auth function). */
  send: (email: string) => Promise<void>;
  sent: string;
  /** The submit button's text. */
  submit: string;
  initialEmail?: string;
  className: string;
  /** A heading (h2) naming the form. */
  heading?: string;
  /** A paragraph opening the form. */
  lead?: string;
}) {
  const [email, setEmail] = useState(initialEmail);
  const action = useAction();
  const headingId = useId();

  const onSubmit = async (event: FormEvent) => {
    event.preventDefault();
    await action.run(async () => {
      if (!email.trim()) throw new Error('Enter your e-mail address.');
      await send(email.trim());
      return sent;
    });
  };

  return (
    <form className={className} onSubmit={onSubmit} noValidate aria-labelledby={heading ? headingId : undefined}>
      {heading ? <h2 id={headingId}>{heading}</h2> : null}
      {lead ? <p className="account-lead">{lead}</p> : null}
      <Field label="E-mail" type="email" name="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} />
      <Notice kind="error">{action.error}</Notice>
      <Notice kind="success">{action.success}</Notice>
      <Button type="submit" busy={action.busy}>
        {submit}
      </Button>
      <p className="links">
        <Link to="/sign-in">Back to sign in</Link>
      </p>
    </form>
  );
}

/** Loads data on mount (and when `deps` change); `reload` loads again. */
export function useLoad<T>(
  load: () => Promise<T>,
  deps: readonly unknown[],
): { data: T | undefined; error: string; loading: boolean; reload: () => Promise<void> } {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState('');
  const [loading, setLoading] = useState(true);
  const latest = useRef(0);
  // `load` is left out of the dependencies on purpose: callers pass a new closure on every render.
  const reload = useCallback(async () => {
    const mine = ++latest.current;
    setLoading(true);
    try {
      const value = await load();
      if (mine === latest.current) {
        setData(value);
        setError('');
      }
    } catch (e) {
      if (mine === latest.current) setError(errorMessage(e));
    } finally {
      if (mine === latest.current) setLoading(false);
    }
  }, deps);
  useEffect(() => {
    void reload();
  }, [reload]);
  return { data, error, loading, reload };
}

/** Runs an action, keeping its busy flag and its error or success message. */
export function useAction(): {
  busy: boolean;
  error: string;
  success: string;
  run: (action: () => Promise<string | void>) => Promise<boolean>;
  clear: () => void;
} {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [success, setSuccess] = useState('');
  const run = useCallback(async (action: () => Promise<string | void>) => {
    setBusy(true);
    setError('');
    setSuccess('');
    try {
      const message = await action();
      if (message) setSuccess(message);
      return true;
    } catch (e) {
      setError(errorMessage(e));
      return false;
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, success, run, clear: () => (setError(''), setSuccess('')) };
}

/**
 * A box that scrolls sideways on narrow screens (wide tables): focusable and named, so keyboard
 * users can scroll it too.
 */
export function ScrollArea({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="table-wrap" tabIndex={0} role="region" aria-label={label}>
      {children}
    </div>
  );
}

/**
 * A table with a caption; `empty` is shown when there are no rows. With `rowHeaders`, each row's
 * first cell is that row's header.
 */
export function Table({
  caption,
  headers,
  rows,
  empty,
  rowHeaders = false,
}: {
  caption: string;
  headers: string[];
  rows: ReactNode[][];
  empty: string;
  rowHeaders?: boolean;
}) {
  if (rows.length === 0) return <p className="empty">{empty}</p>;
  return (
    <ScrollArea label={caption}>
      <table>
        <caption>{caption}</caption>
        <thead>
          <tr>
            {headers.map((h) => (
              <th scope="col" key={h}>
                {h}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row, i) => (
            <tr key={i}>
              {row.map((cell, j) =>
                rowHeaders && j === 0 ? (
                  <th scope="row" key={j}>
                    {cell}
                  </th>
                ) : (
                  <td key={j}>{cell}</td>
                ),
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </ScrollArea>
  );
}

/**
 * A destructive button that asks first, in place: "Delete API key ci" shows
 * "Delete API key ci?" with "Yes, delete API key ci" and "Cancel delete API key ci". Focus moves
 * to the confirmation and back to the button on cancel, so keyboard users never lose their place.
 */
export function ConfirmButton({
  label,
  name,
  question,
  busy,
  onConfirm,
  onOpen,
  onCancel,
  className,
}: {
  /** The visible text of the first button, e.g. "Delete". */
  label: string;
  /** Its accessible name, specific to the row, e.g. "Delete API key ci". */
  name: string;
  /** The question shown while asking; `${name}?` by default. */
  question?: string;
  busy?: boolean;
  /** Runs on "Yes"; answering false keeps the question open (e.g. the server refused). */
  onConfirm: () => Promise<unknown> | unknown;
  onOpen?: () => void;
  onCancel?: () => void;
  className?: string;
}) {
  const [asking, setAsking] = useState(false);
  const confirmRef = useRef<HTMLButtonElement>(null);
  const triggerRef = useRef<HTMLButtonElement>(null);
  const returnFocus = useRef(false);
  const lower = name.charAt(0).toLowerCase() + name.slice(1);

  useEffect(() => {
    if (asking) confirmRef.current?.focus();
    else if (returnFocus.current) {
      returnFocus.current = false;
      triggerRef.current?.focus();
    }
  }, [asking]);

  if (!asking) {
    return (
      <button
        ref={triggerRef}
        type="button"
        className={className ?? 'button button-danger button-small'}
        aria-label={name}
        disabled={busy}
        onClick={() => {
          onOpen?.();
          setAsking(true);
        }}
      >
        {label}
      </button>
    );
  }
  return (
    <span className="confirm" role="group" aria-label={question ?? `${name}?`}>
      <span className="confirm-question">{question ?? `${name}?`}</span>
      <button
        ref={confirmRef}
        type="button"
        className="button button-danger button-small"
        aria-label={`Yes, ${lower}`}
        disabled={busy}
        aria-busy={busy || undefined}
        onClick={async () => {
          if ((await onConfirm()) !== false) setAsking(false);
        }}
      >
        Yes, {label.toLowerCase()}
      </button>
      <button
        type="button"
        className="button button-quiet button-small"
        aria-label={`Cancel ${lower}`}
        disabled={busy}
        onClick={() => {
          onCancel?.();
          returnFocus.current = true;
          setAsking(false);
        }}
      >
        Cancel
      </button>
    </span>
  );
}
