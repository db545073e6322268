import { useEffect, useRef, useState } from 'preact/hooks';
import type { Problem } from '../api/types.ts';
import { useI18n } from '../i18n/i18n.tsx';
import { problemMessage } from '../i18n/problem-message.ts';
import type { OnProgress } from './upload.ts';
import { formatDuration, useRecorder } from './use-recorder.ts';
import './media.css';

/**
 * Record, stop, listen back, then hand the audio to `onUse` (which uploads it, reporting progress).
 * Nothing plays by itself; the level meter shows the microphone is heard while recording.
 */
export function VoiceRecorder({ useLabel, onUse, focusFirst = false }: {
  useLabel: string;
  onUse: (audio: Blob, fileName: string, onProgress: OnProgress) => Promise<void>;
  /** Focus Record at once (the recorder was opened by a button that is gone now). */
  focusFirst?: boolean;
}) {
  const { t } = useI18n();
  const { state, level, start, stop, discard } = useRecorder();
  const [progress, setProgress] = useState<{ sent: number; total: number } | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const uploading = progress !== null;

  // The button pressed goes away at each step: the focus moves to the next step's first button.
  const next = useRef<HTMLButtonElement>(null);
  const mounted = useRef(focusFirst);
  useEffect(() => {
    if (mounted.current) next.current?.focus();
    mounted.current = true;
  }, [state.stage]);

  const use = async (audio: Blob) => {
    setProblem(null);
    setProgress({ sent: 0, total: audio.size });
    try {
      await onUse(audio, recordingFileName(audio.type), (sent, total) => setProgress({ sent, total }));
      discard();
    } catch (failure) {
      setProblem(failure as Problem);
    } finally {
      setProgress(null);
    }
  };

  return (
    <div class="voice-recorder stack">
      {(state.stage === 'idle' || state.stage === 'starting' || state.stage === 'refused') && (
        <p class="voice-controls">
          <button ref={next} type="button" class="secondary" disabled={state.stage === 'starting'} onClick={() => void start()}>
            {t('media.record')}
          </button>
        </p>
      )}
      {state.stage === 'refused' && (
        <p class="error" role="alert">
          {t(state.reason === 'denied' ? 'media.microphoneDenied' : 'media.recordingUnsupported')}
        </p>
      )}
      {state.stage === 'recording' && (
        <div class="voice-controls">
          <button ref={next} type="button" onClick={stop}>
            {t('media.stop')}
          </button>
          <span role="status" class="visually-hidden">
            {t('media.recordingStarted')}
          </span>
          <span aria-hidden="true">{t('media.recording', { elapsed: formatDuration(performance.now() - state.startedAt) })}</span>
          <meter class="level-meter" min={0} max={1} low={0.6} high={0.9} optimum={0.4} value={level} aria-label={t('media.level')} />
        </div>
      )}
      {state.stage === 'recorded' && (
        <div class="stack">
          <audio class="voice-preview" controls preload="metadata" src={state.preview} aria-label={t('media.preview')} />
          <div class="voice-controls">
            <button ref={next} type="button" disabled={uploading} onClick={() => void use(state.audio)}>
              {useLabel}
            </button>
            <button type="button" class="secondary" disabled={uploading} onClick={discard}>
              {t('media.discard')}
            </button>
          </div>
          {progress !== null && <UploadProgress sent={progress.sent} total={progress.total} />}
        </div>
      )}
      {problem !== null && (
        <p class="error" role="alert">
          {problemMessage(problem, t)}
        </p>
      )}
    </div>
  );
}

function UploadProgress({ sent, total }: { sent: number; total: number }) {
  const { t } = useI18n();
  const percent = total > 0 ? Math.round((sent / total) * 100) : 0;
  return (
    <div class="upload-progress">
      <progress max={100} value={percent} aria-label={t('media.uploading')} />
      <span class="muted">{t('media.uploadedPercent', { percent })}</span>
    </div>
  );
}

/** A label for the recording: the time it was made, with the extension of what MediaRecorder produced. */
function recordingFileName(type: string): string {
  const extension = type.includes('ogg') ? 'ogg' : type.includes('mp4') ? 'm4a' : 'webm';
  const stamp = new Date().toISOString().slice(0, 19).replace('T', ' ').replaceAll(':', '.');
  return `Recording ${stamp}.${extension}`;
}
