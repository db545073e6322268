import { useEffect, useRef } from 'preact/hooks';
import { onLiveEvent, type LiveEvent } from './live-events.ts';

/** Calls `listener` (its latest version) with each live event while the component is mounted. */
export function useLiveEvent(listener: (event: LiveEvent) => void): void {
  const latest = useRef(listener);
  latest.current = listener;
  useEffect(() => onLiveEvent((event) => latest.current(event)), []);
}
