import type { ComponentType } from 'react';
import { SignInPage } from './pages/SignIn';
import { ApiKeysPage } from './pages/ApiKeys';
import { TenantsPage } from './pages/Tenants';
import { SettingsPage } from './pages/Settings';
import { SearchPage } from './pages/Search';
import { GraphPage } from './pages/Graph';
import { DatasetPage } from './pages/Dataset';
import { DatasetsPage } from './pages/Datasets';
import { ForgotPasswordPage } from './pages/ForgotPassword';
import { RegisterPage } from './pages/Register';
import { ResetPasswordPage } from './pages/ResetPassword';
import { VerifyPage } from './pages/Verify';
import { SessionsPage } from './pages/Sessions';
import { SessionPage } from './pages/Session';
import { AgentsPage } from './pages/Agents';
import { AgentPage } from './pages/Agent';

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
  { path: '/datasets', component: DatasetsPage, nav: 'Datasets' },
  { path: '/search', component: SearchPage, nav: 'Search' },
  { path: '/datasets/:id/graph', component: GraphPage },
  { path: '/register', component: RegisterPage, public: true },
  { path: '/forgot-password', component: ForgotPasswordPage, public: true },
  { path: '/reset-password', component: ResetPasswordPage, public: true },
  { path: '/verify', component: VerifyPage, public: true },
  { path: '/datasets/:id', component: DatasetPage },
  { path: '/sessions', component: SessionsPage, nav: 'Sessions' },
  { path: '/sessions/:id', component: SessionPage },
  { path: '/agents', component: AgentsPage, nav: 'Agents' },
  { path: '/agents/:user/:name', component: AgentPage },
  { path: '/api-keys', component: ApiKeysPage, nav: 'API keys' },
  { path: '/tenants', component: TenantsPage, nav: 'Tenants & roles' },
  { path: '/settings', component: SettingsPage, nav: 'Settings', superuser: true },
];
