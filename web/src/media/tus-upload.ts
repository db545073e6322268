import type { DetailedError } from 'tus-js-client';
import { api, API_ORIGIN, problemOf, refreshSession } from '../api/client.ts';
import { accessToken } from '../api/session.ts';
import type { Problem } from '../api/types.ts';
import type { OnProgress } from './upload.ts';

/** Waits before each try again after a failed request: the connection back, Plaza restarted. */
const RETRY_DELAYS_MS = [0, 1_000, 3_000, 5_000, 10_000, 20_000];
/** Pieces this large: a dropped connection loses at most one, and the upload goes on from the last byte Plaza has. */
const CHUNK_BYTES = 256 * 1024;
const FINISH_POLLS = 20;

/**
 * A file sent through tus (`/v1/uploads`, docs/media.md "Resumable uploads"), resumed after a dropped
 * connection from the offset Plaza reports; the media item it became is returned. A refused token is
 * refreshed before the next try. tus-js-client is loaded with the first upload, not with the page.
 */
export async function uploadResumably(file: File, onProgress: OnProgress): Promise<string> {
  const { Upload } = await import('tus-js-client');
  let refreshing: Promise<boolean> | null = null;
  const uploadUrl = await new Promise<string>((resolve, reject) => {
    const upload = new Upload(file, {
      endpoint: new URL('/v1/uploads', API_ORIGIN).href,
      metadata: { filename: file.name, filetype: file.type },
      chunkSize: CHUNK_BYTES,
      retryDelays: RETRY_DELAYS_MS,
      removeFingerprintOnSuccess: true,
      onBeforeRequest: async (request) => {
        if (refreshing !== null) await refreshing;
        const token = accessToken();
        if (token !== null) request.setHeader('authorization', `Bearer ${token}`);
      },
      onShouldRetry: (error) => {
        const status = error.originalResponse?.getStatus() ?? 0;
        if (status === 401) refreshing = refreshSession();
        return status === 0 || status === 401 || status === 409 || status === 423 || status >= 500;
      },
      onProgress,
      onSuccess: () => (upload.url === null ? reject(unexpected()) : resolve(upload.url)),
      onError: (error) => reject(problemOfTus(error)),
    });
    upload.start();
  });
  return mediaIdOf(decodeURIComponent(new URL(uploadUrl).pathname.split('/').pop() ?? ''));
}

/** The media item an upload became; Plaza makes it as the last byte lands, so it may take a moment. */
async function mediaIdOf(uploadId: string): Promise<string> {
  for (let poll = 0; poll < FINISH_POLLS; poll++) {
    const { data, error, response } = await api.GET('/v1/uploads/{uploadId}', { params: { path: { uploadId } } });
    if (data === undefined) throw problemOf(error, response);
    if (data.status === 'done' && data.mediaId) return data.mediaId;
    if (data.status === 'failed') throw { status: 422, code: 'unexpected_answer', ...data.error } as Problem;
    await new Promise((resolve) => setTimeout(resolve, 250 * (poll + 1)));
  }
  throw unexpected();
}

function problemOfTus(error: Error | DetailedError): Problem {
  const response = 'originalResponse' in error ? error.originalResponse : null;
  if (response === null) return { status: 0, code: 'network_error' };
  try {
    const body = JSON.parse(response.getBody()) as Problem;
    if (typeof body.code === 'string') return body;
  } catch {
    // not a problem document: said below
  }
  return { status: response.getStatus(), code: 'unexpected_answer' };
}

function unexpected(): Problem {
  return { status: 0, code: 'unexpected_answer' };
}
