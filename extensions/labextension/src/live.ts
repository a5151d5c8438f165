/**
 * The live refresh of a view: a Poller ticking while the widget is shown and the browser
 * tab visible, woken when either comes back. The view's loads connect to `live`.
 */
import { ReactWidget } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { Refresh } from './events';
import { LIVE_REFRESH_MS, Poller } from './poller';

export class LiveRefresh {
  readonly live = new Refresh();
  private poller: Poller;
  private onVisibility = () => this.poller.wake();
  private disconnect: () => void;

  constructor(
    private widget: Widget,
    refresh: Refresh,
    intervalMs: number = LIVE_REFRESH_MS
  ) {
    this.poller = new Poller({
      intervalMs,
      isActive: () =>
        !this.widget.isDisposed &&
        this.widget.isVisible &&
        document.visibilityState === 'visible',
      onTick: () => this.live.emit()
    });
    // a graded submission reloads everything already
    this.disconnect = refresh.connect(() => this.poller.refreshed());
    document.addEventListener('visibilitychange', this.onVisibility);
    this.poller.start();
  }

  /** The widget was shown again. */
  wake(): void {
    this.poller.wake();
  }

  dispose(): void {
    this.disconnect();
    this.poller.stop();
    document.removeEventListener('visibilitychange', this.onVisibility);
  }
}

/** A React view that refreshes itself while shown (the sidebar, the course page): its
 * loads connect to `liveRefresh.live`. */
export abstract class LiveWidget extends ReactWidget {
  protected liveRefresh: LiveRefresh;

  constructor(refresh: Refresh) {
    super();
    this.liveRefresh = new LiveRefresh(this, refresh);
  }

  protected onAfterShow(): void {
    this.liveRefresh.wake();
  }

  dispose(): void {
    this.liveRefresh.dispose();
    super.dispose();
  }
}
