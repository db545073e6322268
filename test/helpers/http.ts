import type { TestApp } from './app.ts';

export type Answer<T = any> = { status: number; headers: Headers; body: T; text: string };

export type RequestOptions = {
  token?: string | undefined;
  body?: unknown;
  /** Sent as is, instead of `body` as JSON. */
  raw?: string | Buffer | undefined;
  headers?: Record<string, string>;
};

/**
 * A small client for the app under test: JSON in, parsed JSON (or text) out. `target` may be a
 * function resolving to the URL, awaited at each call: for an app that starts after the client is made.
 */
export function client(target: TestApp | string | (() => Promise<string>)) {
  const baseUrl = async () => (typeof target === 'string' ? target : typeof target === 'function' ? target() : target.url);
  const call = async <T = any>(method: string, path: string, options: RequestOptions = {}): Promise<Answer<T>> => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
    let body: string | Buffer | undefined = options.raw;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] ??= 'application/json';
    }
    const response = await fetch(`${await baseUrl()}${path}`, { method, headers, body });
    const text = await response.text();
    const type = response.headers.get('content-type') ?? '';
    const parsed = type.includes('json') && text !== '' ? JSON.parse(text) : text;
    return { status: response.status, headers: response.headers, body: parsed as T, text };
  };
  return {
    call,
    get: <T = any>(path: string, options?: RequestOptions) => call<T>('GET', path, options),
    post: <T = any>(path: string, body?: unknown, options?: RequestOptions) => call<T>('POST', path, { ...options, body }),
    put: <T = any>(path: string, body?: unknown, options?: RequestOptions) => call<T>('PUT', path, { ...options, body }),
    patch: <T = any>(path: string, body?: unknown, options?: RequestOptions) => call<T>('PATCH', path, { ...options, body }),
    delete: <T = any>(path: string, body?: unknown, options?: RequestOptions) => call<T>('DELETE', path, { ...options, body }),
  };
}

export type Client = ReturnType<typeof client>;
