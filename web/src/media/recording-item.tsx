import { useRef, useState } from 'preact/hooks';
import { api, API_ORIGIN } from '../api/client.ts';
import { useI18n } from '../i18n/i18n.tsx';
import { ConfirmDelete } from '../shell/confirm-delete.tsx';
import { deleteRecording } from './recording-api.ts';
import type { Recording } from './types.ts';
import { formatDuration } from './use-recorder.ts';
import { Waveform } from './waveform.tsx';

/** One recording: its label, length and date, its waveform, a player (never playing by itself), delete after asking. */
export function RecordingItem({ recording, onDeleted }: { recording: Recording; onDeleted: (recording: Recording) => void }) {
  const { t, locale } = useI18n();
  const created = new Date(recording.createdAt);
  // The signed link expires (SIGNED_URL_TTL): a page left open past it asks for a fresh one, once per link.
  const [link, setLink] = useState(recording.url);
  const renewed = useRef<string | null>(null);
  const renew = async () => {
    if (renewed.current === link) return;
    renewed.current = link;
    const { data } = await api.GET('/v1/recordings/{id}', { params: { path: { id: recording.id } } });
    if (data !== undefined) setLink(data.url);
  };
  // The API's links are relative to it, which is not this page's origin when the client is on a CDN.
  const url = new URL(link, API_ORIGIN).href;
  return (
    <article class="recording" aria-label={recording.fileName}>
      <header class="recording-header">
        <strong>{recording.fileName}</strong>
        {recording.durationMs !== null && <span class="muted">{formatDuration(recording.durationMs)}</span>}
        <time class="muted" dateTime={recording.createdAt}>
          {created.toLocaleString(locale)}
        </time>
      </header>
      <Waveform peaks={recording.waveform} url={url} label={t('media.waveformOf', { name: recording.fileName })} />
      <audio controls preload="metadata" src={url} aria-label={t('media.play', { name: recording.fileName })} onError={() => void renew()} />
      <div class="item-actions">
        <ConfirmDelete
          question={t('media.deleteQuestion')}
          label={t('media.deleteRecording', { name: recording.fileName })}
          onDelete={async () => {
            await deleteRecording(recording.id);
            onDeleted(recording);
          }}
        />
      </div>
    </article>
  );
}
