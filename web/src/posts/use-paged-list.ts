import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import type { Page, Problem } from '../api/types.ts';

/**
 * A cursor-paged list (API.md "Lists"): the pages read so far, joined, and `loadMore` for the next.
 * One page is in flight at a time; a failed page can be tried again. `sentinel` goes on an element
 * after the list: when it scrolls into view (400 px ahead), the next page loads.
 */
export function usePagedList<Item>(fetchPage: (cursor: string | undefined) => Promise<Page<Item>>) {
  const [items, setItems] = useState<Item[]>([]);
  const [cursor, setCursor] = useState<string | null | undefined>(undefined);
  const [loading, setLoading] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const inFlight = useRef(false);
  const done = cursor === null;

  const loadMore = useCallback(async () => {
    if (inFlight.current || done) return;
    inFlight.current = true;
    setLoading(true);
    setProblem(null);
    try {
      const page = await fetchPage(cursor ?? undefined);
      setItems((before) => [...before, ...page.items]);
      setCursor(page.nextCursor);
    } catch (error) {
      setProblem(error as Problem);
    } finally {
      inFlight.current = false;
      setLoading(false);
    }
  }, [cursor, done, fetchPage]);

  const [sentinel, setSentinel] = useState<Element | null>(null);
  useEffect(() => {
    if (sentinel === null || done || problem !== null) return;
    const observer = new IntersectionObserver((entries) => entries.some((entry) => entry.isIntersecting) && void loadMore(), { rootMargin: '400px 0px' });
    observer.observe(sentinel);
    return () => observer.disconnect();
  }, [sentinel, done, problem, loadMore]);

  return { items, setItems, loading, done, problem, loadMore, sentinel: setSentinel };
}
