import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from 'react';
import { logout } from './api/auth';
import { onUnauthorized } from './api/client';
import { me as readMe, type User } from './api/users';
import { navigate } from './router';

export type { User };

interface Session {
  /** undefined while loading, null when signed out. */
  user: User | null | undefined;
  refresh(): Promise<User | null>;
  signOut(): Promise<void>;
}

const SessionContext = createContext<Session | undefined>(undefined);

/** Pages anyone may open without a session. */
export const PUBLIC_PATHS = ['/sign-in', '/register', '/forgot-password', '/reset-password', '/verify'];

export function SessionProvider({ children }: { children: ReactNode }) {
  const [user, setUser] = useState<User | null | undefined>(undefined);

  const refresh = useCallback(async () => {
    try {
      const me = await readMe({ quiet401: true });
      setUser(me);
      return me;
    } catch {
      setUser(null);
      return null;
    }
  }, []);

  const signOut = useCallback(async () => {
    try {
      await logout();
    } finally {
      setUser(null);
      navigate('/sign-in', { replace: true });
    }
  }, []);

  useEffect(() => {
    void refresh();
    // An expired or revoked session: back to sign-in, then back here after signing in again.
    return onUnauthorized(() => {
      setUser(null);
      const here = window.location.pathname + window.location.search;
      if (!PUBLIC_PATHS.includes(window.location.pathname)) {
        navigate(`/sign-in?expired=1&next=${encodeURIComponent(here)}`, { replace: true });
      }
    });
  }, [refresh]);

  return <SessionContext.Provider value={{ user, refresh, signOut }}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside SessionProvider');
  return session;
}
