import { useCallback } from 'preact/hooks';
import { useI18n } from '../i18n/i18n.tsx';
import { problemMessage } from '../i18n/problem-message.ts';
import { recordingPage } from '../media/recording-api.ts';
import { RecordingItem } from '../media/recording-item.tsx';
import { uploadRecording } from '../media/upload.ts';
import { VoiceRecorder } from '../media/voice-recorder.tsx';
import { usePagedList } from '../posts/use-paged-list.ts';

/** The recorder: record in the browser and save, then the list of recordings to play and delete. */
export default function Recordings() {
  const { t } = useI18n();
  const list = usePagedList(useCallback((cursor: string | undefined) => recordingPage(cursor), []));
  return (
    <section class="page">
      <h1>{t('media.recordingsTitle')}</h1>
      <h2>{t('media.newRecording')}</h2>
      <VoiceRecorder
        useLabel={t('media.save')}
        onUse={async (audio, fileName, onProgress) => {
          const recording = await uploadRecording(audio, fileName, onProgress);
          list.setItems((before) => [recording, ...before]);
        }}
      />
      <h2>{t('media.yourRecordings')}</h2>
      <ul class="recordings" aria-busy={list.loading}>
        {list.items.map((recording) => (
          <li key={recording.id}>
            <RecordingItem recording={recording} onDeleted={(gone) => list.setItems((before) => before.filter((each) => each.id !== gone.id))} />
          </li>
        ))}
      </ul>
      {list.done && list.items.length === 0 && <p class="muted">{t('media.noRecordings')}</p>}
      {list.problem !== null && (
        <p class="error" role="alert">
          {problemMessage(list.problem, t)}{' '}
          <button type="button" onClick={() => void list.loadMore()}>
            {t('timeline.retry')}
          </button>
        </p>
      )}
      {!list.done && list.problem === null && (
        <div ref={list.sentinel}>
          <button type="button" class="secondary" disabled={list.loading} onClick={() => void list.loadMore()}>
            {list.loading ? t('app.loading') : t('timeline.loadMore')}
          </button>
        </div>
      )}
    </section>
  );
}
