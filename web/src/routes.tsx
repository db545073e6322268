import { lazy } from 'preact-iso';
import type { ComponentType } from 'preact';
import type { MessageKey } from './i18n/en.ts';

/**
 * Every page of the client, in one table: the router and the navigation both read it. A page is
 * loaded when first visited (its own chunk), so the first page's JavaScript stays small. To add a
 * feature page: write `pages/<name>.tsx` exporting a default component, and add its row here (with
 * `nav` to put it in the navigation, `signedIn` to send visitors without a session to sign in).
 */
export type PageRoute = {
  path: string;
  component: ComponentType<Record<string, unknown>>;
  /** Its entry in the navigation, if it has one. */
  nav?: MessageKey;
  /** Needs a session: visitors are sent to /sign-in. */
  signedIn?: boolean;
  /** Shown in the navigation only to visitors without a session. */
  signedOutOnly?: boolean;
};

/** Where the social sign-in sends the browser back with the session; Plaza allows it by default (README "Web client"). */
export const AUTH_RETURN_PATH = '/auth/return';

export const ROUTES: PageRoute[] = [
  { path: '/', component: lazy(() => import('./pages/home.tsx')), nav: 'nav.home' },
  { path: '/explore', component: lazy(() => import('./pages/explore.tsx')), nav: 'nav.explore' },
  { path: '/notifications', component: lazy(() => import('./pages/notifications.tsx')), nav: 'nav.notifications', signedIn: true },
  { path: '/memos', component: lazy(() => import('./pages/memos.tsx')), nav: 'nav.memos', signedIn: true },
  { path: '/recordings', component: lazy(() => import('./pages/recordings.tsx')), nav: 'nav.recordings', signedIn: true },
  { path: '/wallet', component: lazy(() => import('./pages/wallet.tsx')), nav: 'nav.wallet', signedIn: true },
  { path: '/wallet/return', component: lazy(() => import('./pages/wallet-return.tsx')), signedIn: true },
  { path: '/library', component: lazy(() => import('./pages/library.tsx')), nav: 'library.title', signedIn: true },
  { path: '/profile', component: lazy(() => import('./pages/own-profile.tsx')), nav: 'nav.profile', signedIn: true },
  { path: '/profile/edit', component: lazy(() => import('./pages/edit-profile.tsx')), signedIn: true },
  { path: '/u/:handle', component: lazy(() => import('./pages/profile.tsx')) },
  { path: '/settings', component: lazy(() => import('./pages/settings.tsx')), nav: 'nav.settings', signedIn: true },
  { path: '/sign-in', component: lazy(() => import('./pages/sign-in.tsx')), nav: 'nav.signIn', signedOutOnly: true },
  { path: '/sign-up', component: lazy(() => import('./pages/sign-up.tsx')), nav: 'nav.signUp', signedOutOnly: true },
  { path: AUTH_RETURN_PATH, component: lazy(() => import('./pages/auth-return.tsx')) },
  // Where notifications and pushes about a post lead.
  { path: '/posts/:id', component: lazy(() => import('./pages/post.tsx')) },
];
