import { ErrorBoundary, LocationProvider, Route, Router } from 'preact-iso';
import { I18nProvider } from './i18n/i18n.tsx';
import { ROUTES } from './routes.tsx';
import { Layout } from './shell/layout.tsx';
import { signedInOnly } from './shell/signed-in-only.tsx';
import NotFound from './pages/not-found.tsx';

/**
 * Links the router handles in the page; any other (the API's own, such as a social sign-in's
 * `/v1/auth/oauth/…/authorize`, or `/docs`) is left to the browser, which must really go there.
 */
const CLIENT_LINKS = /^\/(?!v1\/|docs(\/|$)|openapi\.json)/;

/** The routes' components, those needing a session behind the sign-in check (wrapped once, so each keeps its identity). */
const PAGES = ROUTES.map((page) => ({ path: page.path, component: page.signedIn ? signedInOnly(page.component) : page.component }));

export function App() {
  return (
    <I18nProvider>
      <LocationProvider scope={CLIENT_LINKS}>
        <Layout>
          <ErrorBoundary>
            <Router>
              {[...PAGES.map((page) => <Route key={page.path} path={page.path} component={page.component} />), <Route key="*" default component={NotFound} />]}
            </Router>
          </ErrorBoundary>
        </Layout>
      </LocationProvider>
    </I18nProvider>
  );
}
