/** Load data for a view, again on every refresh; errors become plain messages. */
import { useCallback, useEffect, useRef, useState } from 'react';

import { Refresh } from './events';

export interface ILoaded<T> {
  data: T | null;
  error: string | null;
  loading: boolean;
  reload: () => void;
}

/**
 * `refresh` reloads on every graded submission; `live` (optional: the periodic refresh,
 * given only to the view on show) reloads quietly too.
 */
export function useLoad<T>(
  load: () => Promise<T>,
  refresh: Refresh,
  deps: unknown[],
  live?: Refresh | null
): ILoaded<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  // answers of superseded requests (filters changed, refresh) are dropped
  const generation = useRef(0);

  const reload = useCallback(() => {
    const mine = ++generation.current;
    setLoading(true);
    load().then(
      value => {
        if (mine === generation.current) {
          setData(value);
          setError(null);
          setLoading(false);
        }
      },
      (e: Error) => {
        if (mine === generation.current) {
          setError(e.message);
          setLoading(false);
        }
      }
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);

  useEffect(() => {
    reload();
    return refresh.connect(reload);
  }, [reload, refresh]);

  useEffect(() => (live ? live.connect(reload) : undefined), [reload, live]);

  useEffect(
    () => () => {
      generation.current++;
    },
    []
  );

  return { data, error, loading, reload };
}
