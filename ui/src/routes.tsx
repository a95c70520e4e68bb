import type { ComponentType } from 'react';
import { SignInPage } from './pages/SignIn';
import { SearchPage } from './pages/Search';
import { GraphPage } from './pages/Graph';

/**
 * Every page of the app: its path pattern (`:name` parameters), the component, whether it needs a
 * session, and its place in the navigation. One line per page.
 */
export interface RouteDef {
  readonly path: string;
  readonly component: ComponentType<{ params: Record<string, string> }>;
  readonly public?: boolean;
  readonly nav?: string;
  readonly superuser?: boolean;
}

export const ROUTES: RouteDef[] = [
  { path: '/sign-in', component: SignInPage, public: true },
  { path: '/search', component: SearchPage, nav: 'Search' },
  { path: '/datasets/:id/graph', component: GraphPage },
];
