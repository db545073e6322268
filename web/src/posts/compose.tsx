import { useEffect, useId, useRef, useState } from 'preact/hooks';
import { api, problemOf } from '../api/client.ts';
import type { Problem } from '../api/types.ts';
import { useI18n } from '../i18n/i18n.tsx';
import { problemMessage } from '../i18n/problem-message.ts';
import { VoiceAttachment } from '../media/voice-attachment.tsx';
import { graphemeCount, POST_TEXT_MAX_GRAPHEMES } from './graphemes.ts';
import { ComposeOptions, DEFAULT_POST_OPTIONS, postOptionsBody, priceCoins, type PostOptions } from './compose-options.tsx';

/** API.md: a post takes at most four media. */
const MAX_PHOTOS = 4;

type Photo = { file: File; preview: string };

/**
 * Writing a post: text with a live count of graphemes against the API's limit, up to four photos or
 * videos (each uploaded with POST /v1/media when posting), a voice recording made here, who may see
 * it and its price, then POST /v1/posts.
 */
export function Compose({ onPosted }: { onPosted: () => void }) {
  const { t } = useI18n();
  const id = useId();
  const [text, setText] = useState('');
  const [photos, setPhotos] = useState<Photo[]>([]);
  const [stage, setStage] = useState<'idle' | 'uploading' | 'posting' | 'posted'>('idle');
  const [problem, setProblem] = useState<Problem | null>(null);
  // A voice recording is uploaded when attached (media/voice-attachment.tsx); a new one starts after posting.
  const [voiceId, setVoiceId] = useState<string | null>(null);
  const [voiceGeneration, setVoiceGeneration] = useState(0);
  const photoRoom = MAX_PHOTOS - (voiceId === null ? 0 : 1);
  const [options, setOptions] = useState<PostOptions>(DEFAULT_POST_OPTIONS);
  const count = graphemeCount(text);
  const over = count - POST_TEXT_MAX_GRAPHEMES;
  const busy = stage === 'uploading' || stage === 'posting';
  const empty = text.trim() === '' && photos.length === 0 && voiceId === null;

  // A preview's object URL holds its file in memory until revoked: on removal, after posting, on leaving.
  const shown = useRef(photos);
  shown.current = photos;
  useEffect(() => () => shown.current.forEach((photo) => URL.revokeObjectURL(photo.preview)), []);
  const removePhotos = (removed: Photo[]) => {
    removed.forEach((photo) => URL.revokeObjectURL(photo.preview));
    setPhotos((before) => before.filter((photo) => !removed.includes(photo)));
  };

  const addPhotos = (files: FileList | null) => {
    const added = [...(files ?? [])].slice(0, photoRoom - photos.length).map((file) => ({ file, preview: URL.createObjectURL(file) }));
    setPhotos((before) => [...before, ...added]);
  };

  const submit = async (event: Event) => {
    event.preventDefault();
    setProblem(null);
    try {
      setStage('uploading');
      const mediaIds = voiceId === null ? [] : [voiceId];
      for (const photo of photos) {
        const { data, error, response } = await api.POST('/v1/media', {
          params: { query: { fileName: photo.file.name } },
          body: photo.file,
          bodySerializer: (file) => file,
          headers: { 'content-type': photo.file.type || 'application/octet-stream' },
        });
        if (data === undefined) throw problemOf(error, response);
        mediaIds.push(data.id);
      }
      setStage('posting');
      const { data, error, response } = await api.POST('/v1/posts', { body: { text, ...(mediaIds.length > 0 && { mediaIds }), ...postOptionsBody(options) } });
      if (data === undefined) throw problemOf(error, response);
      setText('');
      removePhotos(photos);
      setVoiceId(null);
      setVoiceGeneration((value) => value + 1);
      // The audience is kept for the next post; a price is not, so no post is paid by accident.
      setOptions((before) => ({ ...before, price: '' }));
      setStage('posted');
      onPosted();
    } catch (failure) {
      setProblem(failure as Problem);
      setStage('idle');
    }
  };

  return (
    <form class="compose stack" onSubmit={submit} aria-label={t('compose.label')}>
      <label for={`${id}-text`} class="visually-hidden">
        {t('compose.label')}
      </label>
      <textarea id={`${id}-text`} rows={3} value={text} placeholder={t('compose.placeholder')} onInput={(event) => setText(event.currentTarget.value)} aria-describedby={`${id}-count`} />
      <p id={`${id}-count`} class={over > 0 ? 'count error' : 'count muted'} aria-live="polite">
        {over > 0 ? t('compose.tooLong', { over }) : t('compose.count', { count, max: POST_TEXT_MAX_GRAPHEMES })}
      </p>
      {photos.length > 0 && (
        <ul class="previews">
          {photos.map((photo, index) => (
            <li key={photo.preview}>
              {photo.file.type.startsWith('video/') ? <video src={photo.preview} muted preload="metadata" aria-hidden="true" /> : <img src={photo.preview} alt="" />}
              <button type="button" class="secondary" onClick={() => removePhotos([photo])} aria-label={t('compose.removePhoto', { index: index + 1 })}>
                ×
              </button>
            </li>
          ))}
        </ul>
      )}
      <ComposeOptions options={options} onChange={setOptions} disabled={busy} />
      <div class="compose-actions">
        <label class="button secondary" aria-disabled={photos.length >= photoRoom}>
          {t('compose.addPhotos')}
          <input class="visually-hidden" type="file" accept="image/*,video/*" multiple disabled={photos.length >= photoRoom || busy} onChange={(event) => {
              addPhotos(event.currentTarget.files);
              event.currentTarget.value = '';
            }} />
        </label>
        <span class="muted">{t('compose.photosLimit', { max: MAX_PHOTOS })}</span>
        <VoiceAttachment key={voiceGeneration} disabled={photos.length >= MAX_PHOTOS || busy} onChange={setVoiceId} />
        <button type="submit" disabled={busy || empty || over > 0 || priceCoins(options) === null}>
          {stage === 'uploading' ? t('compose.uploading') : stage === 'posting' ? t('compose.posting') : t('compose.post')}
        </button>
      </div>
      {problem !== null && (
        <p class="error" role="alert">
          {problemMessage(problem, t)}
        </p>
      )}
      {stage === 'posted' && (
        <p class="muted" role="status">
          {t('compose.posted')}
        </p>
      )}
    </form>
  );
}
