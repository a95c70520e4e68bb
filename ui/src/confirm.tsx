import { useEffect, useRef, useState } from 'react';

/**
 * A destructive button that asks first, in place: "Delete API key ci" shows
 * "Delete API key ci?" with "Yes, delete API key ci" and "Cancel delete API key ci". Focus moves
 * to the confirmation and back to the button on cancel, so keyboard users never lose their place.
 */
export function ConfirmButton({
  label,
  name,
  busy,
  onConfirm,
  className,
}: {
  /** The visible text of the first button, e.g. "Delete". */
  label: string;
  /** Its accessible name, specific to the row, e.g. "Delete API key ci". */
  name: string;
  busy?: boolean;
  onConfirm: () => Promise<unknown> | void;
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
        onClick={() => setAsking(true)}
      >
        {label}
      </button>
    );
  }
  return (
    <span className="adm-confirm" role="group" aria-label={`${name}?`}>
      <span className="adm-confirm-question">{name}?</span>
      <button
        ref={confirmRef}
        type="button"
        className="button button-danger button-small"
        aria-label={`Yes, ${lower}`}
        disabled={busy}
        aria-busy={busy || undefined}
        onClick={async () => {
          await onConfirm();
          setAsking(false);
        }}
      >
        Yes, {label.toLowerCase()}
      </button>
      <button
        type="button"
        className="button button-quiet button-small"
        aria-label={`Cancel ${lower}`}
        onClick={() => {
          returnFocus.current = true;
          setAsking(false);
        }}
      >
        Cancel
      </button>
    </span>
  );
}
