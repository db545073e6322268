// The container's health check: GET a path of this container's Plaza (/healthz by default, /readyz
// where the caller wants readiness) and exit 0 on a 2xx, 1 otherwise. The slim image has no curl.
const path = process.argv[2] ?? '/healthz';
const port = process.env.PORT ?? '8080';
const TIMEOUT_MS = 2500;

try {
  const answer = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  process.exitCode = answer.ok ? 0 : 1;
} catch {
  process.exitCode = 1;
}
