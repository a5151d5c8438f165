/**
 * A cheap periodic refresh: every `intervalMs` while the view is shown and the browser
 * tab is visible, never while hidden (no requests from a tab nobody looks at). When the
 * view or the tab comes back after more than an interval, it refreshes at once. Time
 * and timers are passed in, so it is unit-tested.
 */

export interface IPollerOptions {
  intervalMs: number;
  /** Whether a refresh is wanted now: the view shown and `document.visibilityState` visible. */
  isActive: () => boolean;
  onTick: () => void;
  now?: () => number;
  setInterval?: (fn: () => void, ms: number) => unknown;
  clearInterval?: (handle: unknown) => void;
}

/** How often the panel, the leaderboard and the course page refresh themselves. */
export const LIVE_REFRESH_MS = 45_000;

export class Poller {
  private handle: unknown = null;
  private last: number;

  constructor(private options: IPollerOptions) {
    this.last = this.now();
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  /** Start ticking (idempotent). */
  start(): void {
    if (this.handle !== null) {
      return;
    }
    const set = this.options.setInterval ?? ((fn, ms) => setInterval(fn, ms));
    this.handle = set(() => this.tick(), this.options.intervalMs);
  }

  stop(): void {
    if (this.handle !== null) {
      const clear =
        this.options.clearInterval ??
        ((h: unknown) => clearInterval(h as ReturnType<typeof setInterval>));
      clear(this.handle);
      this.handle = null;
    }
  }

  /** Something else refreshed everything (a graded submission): the next tick can wait. */
  refreshed(): void {
    this.last = this.now();
  }

  /** The view or the tab became visible: refresh at once if the data is older than an interval. */
  wake(): void {
    if (this.options.isActive() && this.now() - this.last >= this.options.intervalMs) {
      this.fire();
    }
  }

  private tick(): void {
    if (this.options.isActive()) {
      this.fire();
    }
  }

  private fire(): void {
    this.last = this.now();
    this.options.onTick();
  }
}
