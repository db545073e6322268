import { api, problemOf } from '../api/client.ts';
import type { Page } from '../api/types.ts';
import type { Recording } from './types.ts';

const PAGE_SIZE = 20;

/** One page of the caller's recordings, newest first. */
export async function recordingPage(cursor: string | undefined): Promise<Page<Recording>> {
  const { data, error, response } = await api.GET('/v1/recordings', { params: { query: { limit: PAGE_SIZE, ...(cursor !== undefined && { cursor }) } } });
  if (data === undefined) throw problemOf(error, response);
  return data;
}

export async function deleteRecording(id: string): Promise<void> {
  const { error, response } = await api.DELETE('/v1/recordings/{id}', { params: { path: { id } } });
  if (!response.ok) throw problemOf(error, response);
}
