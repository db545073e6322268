import { API_ORIGIN, refreshSession } from '../api/client.ts';
import { accessToken } from '../api/session.ts';
import type { Problem } from '../api/types.ts';
import { uploadResumably } from './tus-upload.ts';
import type { Recording } from './types.ts';

/** Told how many bytes of how many have gone out so far. */
export type OnProgress = (sent: number, total: number) => void;

/**
 * A recording, stored in the recorder's list: `PUT /v1/recordings/{fileName}`, in one request (the
 * API has no resumable path for recordings: tus makes post media, not recordings).
 */
export function uploadRecording(audio: Blob, fileName: string, onProgress: OnProgress): Promise<Recording> {
  return sendWithProgress(`/v1/recordings/${encodeURIComponent(fileName)}`, audio, onProgress) as Promise<Recording>;
}

/**
 * A voice recording for a post: a media item, uploaded through tus so a dropped connection resumes
 * where it stopped (tus-upload.ts). Returns the media item's id.
 */
export function uploadVoiceMedia(audio: Blob, fileName: string, onProgress: OnProgress): Promise<string> {
  return uploadResumably(new File([audio], fileName, { type: audio.type }), onProgress);
}

/**
 * One upload with the session's token, reporting progress (fetch cannot report an upload's progress,
 * XMLHttpRequest can). A refused token is refreshed once and the upload sent again, as the API client does.
 */
async function sendWithProgress(path: string, body: Blob, onProgress: OnProgress): Promise<unknown> {
  const first = await send('PUT', path, body, onProgress);
  if (first.status !== 401 || !(await refreshSession())) return answerOf(first);
  return answerOf(await send('PUT', path, body, onProgress));
}

function send(method: string, path: string, body: Blob, onProgress: OnProgress): Promise<XMLHttpRequest> {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open(method, new URL(path, API_ORIGIN));
    const token = accessToken();
    if (token !== null) request.setRequestHeader('authorization', `Bearer ${token}`);
    request.setRequestHeader('content-type', body.type || 'application/octet-stream');
    request.responseType = 'text';
    request.upload.onprogress = (event) => onProgress(event.loaded, event.lengthComputable ? event.total : body.size);
    request.onload = () => resolve(request);
    request.onerror = () => reject({ status: 0, code: 'network_error' } satisfies Problem);
    request.onabort = request.onerror;
    request.send(body);
  });
}

function answerOf(request: XMLHttpRequest): unknown {
  const json = parseJson(request.responseText);
  if (request.status >= 200 && request.status < 300 && json !== undefined) return json;
  if (typeof json === 'object' && json !== null && 'code' in json) throw json as Problem;
  throw { status: request.status, code: 'unexpected_answer' } satisfies Problem;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
