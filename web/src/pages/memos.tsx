import { useCallback, useEffect, useId, useState } from 'preact/hooks';
import { useI18n } from '../i18n/i18n.tsx';
import { problemMessage } from '../i18n/problem-message.ts';
import { memoPage, writeMemo } from '../memos/memo-api.ts';
import { MemoForm } from '../memos/memo-form.tsx';
import { MemoItem } from '../memos/memo-item.tsx';
import { usePagedList } from '../posts/use-paged-list.ts';
import '../memos/memos.css';

/** Waiting this long after the last key before searching, so typing a word is one request. */
const SEARCH_DELAY_MS = 300;

/** Memos: private notes, only ever shown to their owner. Write, search, edit, delete. */
export default function Memos() {
  const { t } = useI18n();
  const id = useId();
  const [typed, setTyped] = useState('');
  const [query, setQuery] = useState('');
  // A memo written restarts the list from its newest page, where it is.
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    const timer = setTimeout(() => setQuery(typed.trim()), SEARCH_DELAY_MS);
    return () => clearTimeout(timer);
  }, [typed]);

  return (
    <section class="page">
      <h1>{t('memos.title')}</h1>
      <p class="muted">{t('memos.private')}</p>
      <MemoForm
        label={t('memos.writeLabel')}
        saveLabel={t('memos.write')}
        onSave={async (text) => {
          await writeMemo(text);
          setGeneration((value) => value + 1);
        }}
      />
      <form role="search" class="memo-search" onSubmit={(event) => {
          event.preventDefault();
          setQuery(typed.trim());
        }}>
        <label for={`${id}-q`} class="visually-hidden">
          {t('memos.search')}
        </label>
        <input id={`${id}-q`} type="search" value={typed} placeholder={t('memos.search')} onInput={(event) => setTyped(event.currentTarget.value)} />
        <button type="submit" class="secondary">
          {t('memos.searchButton')}
        </button>
      </form>
      <MemoList key={`${generation}:${query}`} query={query} />
    </section>
  );
}

function MemoList({ query }: { query: string }) {
  const { t } = useI18n();
  const fetchPage = useCallback((cursor: string | undefined) => memoPage(query, cursor), [query]);
  const list = usePagedList(fetchPage);
  return (
    <div>
      <p class="visually-hidden" role="status">
        {list.done ? t(query === '' ? 'memos.count' : 'memos.found', { count: list.items.length }) : ''}
      </p>
      <ul class="memos" aria-busy={list.loading} aria-label={query === '' ? t('memos.title') : t('memos.results', { query })}>
        {list.items.map((memo) => (
          <li key={memo.id}>
            <MemoItem
              memo={memo}
              onChange={(changed) => list.setItems((memos) => memos.map((each) => (each.id === changed.id ? changed : each)))}
              onDeleted={(gone) => list.setItems((memos) => memos.filter((each) => each.id !== gone.id))}
            />
          </li>
        ))}
      </ul>
      {list.done && list.items.length === 0 && <p class="muted">{query === '' ? t('memos.empty') : t('memos.noneFound', { query })}</p>}
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
    </div>
  );
}
