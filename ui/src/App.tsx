import { useEffect } from 'react';
import { Link, match, navigate, useLocation } from './router';
import { ROUTES } from './routes';
import { useSession } from './session';

export function App() {
  const { path } = useLocation();
  const { user, signOut } = useSession();
  const found = path === '/' ? undefined : ROUTES.map((r) => ({ r, params: match(r.path, path) })).find((m) => m.params);
  const needsSession = !found || !found.r.public;

  useEffect(() => {
    if (user === undefined) return;
    if (path === '/') navigate(user ? '/datasets' : '/sign-in', { replace: true });
    else if (!user && needsSession && found) navigate(`/sign-in?next=${encodeURIComponent(path + window.location.search)}`, { replace: true });
  }, [user, path, needsSession, found]);

  const nav = ROUTES.filter((r) => r.nav && (!r.superuser || user?.is_superuser));

  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="top">
        <Link to={user ? '/datasets' : '/sign-in'} className="brand">
          Engram
        </Link>
        {user ? (
          <nav aria-label="Main">
            <ul>
              {nav.map((r) => (
                <li key={r.path}>
                  <Link to={r.path}>{r.nav}</Link>
                </li>
              ))}
            </ul>
          </nav>
        ) : null}
        {user ? (
          <div className="who">
            <span className="email">{user.email}</span>
            <button className="button button-quiet" type="button" onClick={() => void signOut()}>
              Sign out
            </button>
          </div>
        ) : null}
      </header>
      <main id="main" tabIndex={-1}>
        {user === undefined || path === '/' || (needsSession && !user && found) ? (
          <p className="loading" role="status">
            Loading…
          </p>
        ) : found ? (
          <found.r.component params={found.params!} />
        ) : (
          <section className="page" aria-labelledby="page-title">
            <h1 id="page-title">Page not found</h1>
            <p>
              There is no page at this address. <Link to="/">Go to the start page</Link>.
            </p>
          </section>
        )}
      </main>
    </>
  );
}
