/// <reference types="vite/client" />

interface ImportMetaEnv {
  /** The API's origin when the client is served from elsewhere (a CDN); unset: the page's own origin. */
  readonly VITE_PLAZA_API_URL?: string;
}
