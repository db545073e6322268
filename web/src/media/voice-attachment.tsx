import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../api/client.ts';
import { useI18n } from '../i18n/i18n.tsx';
import { uploadVoiceMedia } from './upload.ts';
import { VoiceRecorder } from './voice-recorder.tsx';

/**
 * Compose's "record voice": opens the recorder, uploads the take as a media item when attached, and
 * tells compose its id (or null once removed; the removed take is deleted at Plaza, not left behind).
 * `disabled` while the post has no room for another media item.
 */
export function VoiceAttachment({ disabled, onChange }: { disabled: boolean; onChange: (mediaId: string | null) => void }) {
  const { t } = useI18n();
  const [open, setOpen] = useState(false);
  const [attached, setAttached] = useState<string | null>(null);
  const remove = useRef<HTMLButtonElement>(null);
  useEffect(() => remove.current?.focus(), [attached]);
  const attach = (mediaId: string | null) => {
    setAttached(mediaId);
    onChange(mediaId);
  };

  if (attached !== null) {
    return (
      <p class="voice-attached">
        <span role="status">{t('media.voiceAttached')}</span>
        <button ref={remove} type="button" class="secondary" onClick={() => {
            void api.DELETE('/v1/media/{id}', { params: { path: { id: attached } } });
            attach(null);
          }}>
          {t('media.removeVoice')}
        </button>
      </p>
    );
  }
  if (!open) {
    return (
      <button type="button" class="secondary" disabled={disabled} onClick={() => setOpen(true)}>
        {t('media.recordVoice')}
      </button>
    );
  }
  return (
    <VoiceRecorder
      focusFirst
      useLabel={t('media.attach')}
      onUse={async (audio, fileName, onProgress) => attach(await uploadVoiceMedia(audio, fileName, onProgress))}
    />
  );
}
