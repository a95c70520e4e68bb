import { useId, type ReactNode } from 'react';
import { ApiFailure, errorMessage } from '../api/client';

/** Pieces shared by the tenants page's sections (Tenants.tsx and TenantSharing.tsx). */

/** A load the server may refuse with 403 (not a manager, no share): the refusal is shown as information. */
export type Guarded<T> = { ok: T } | { refused: string };
export async function guarded<T>(load: () => Promise<T>): Promise<Guarded<T>> {
  try {
    return { ok: await load() };
  } catch (e) {
    if (e instanceof ApiFailure && e.status === 403) return { refused: errorMessage(e) };
    throw e;
  }
}

export function Select({ label, value, onChange, children }: { label: string; value: string; onChange: (v: string) => void; children: ReactNode }) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select id={id} value={value} onChange={(e) => onChange(e.target.value)}>
        {children}
      </select>
    </div>
  );
}
