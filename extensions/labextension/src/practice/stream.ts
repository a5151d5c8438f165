/**
 * The learner's push channel (`GET events`, server-sent events) kept open: every
 * message goes to `onEvent`; when the stream ends, fails or falls silent it is opened
 * again after a pause that grows with each failure, with `Last-Event-ID` so the grader
 * replays what was missed meanwhile. The stream, the pause and the clock are passed in,
 * so it is unit-tested without a server.
 */
import { IServerSentEvent, ISSEParserState, ITextStream, parseSSE, SSE_START } from '../sse';

export interface IEventChannelOptions {
  /** Open the stream, replaying from `lastEventId` ('' for none: from now on). */
  openStream: (lastEventId: string, signal: AbortSignal) => Promise<ITextStream>;
  onEvent: (message: IServerSentEvent) => void;
  /**
   * A stream is open; `again` is true after the first (what happened while it was
   * down is replayed, but views may reload to be sure).
   */
  onOpen?: (again: boolean) => void;
  /** Wait `ms`, or less if `signal` aborts (then resolve). */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/** Pauses before opening the stream again, in ms, after 1, 2, 3... failures in a row. */
const BACKOFF_MS = [1_000, 2_000, 5_000, 10_000, 30_000];

/** A refusal that will not change soon (no course, no such endpoint): ask rarely. */
const REFUSED_MS = 300_000;

/**
 * How long to wait before opening the stream again: a second after a stream that ended
 * by itself (`failures` 0), longer after each failure in a row, five minutes after a
 * refusal (401, 403, 404: not a learner, or an older server without the channel).
 */
export function reconnectDelay(failures: number, status: number | null = null): number {
  if (status === 401 || status === 403 || status === 404) {
    return REFUSED_MS;
  }
  if (failures <= 0) {
    return BACKOFF_MS[0];
  }
  return BACKOFF_MS[Math.min(failures, BACKOFF_MS.length) - 1];
}

function defaultSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise(resolve => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });
}

export class EventChannel {
  /** The id of the last message received: where a new stream resumes. */
  lastEventId = '';
  private controller: AbortController | null = null;
  private running: Promise<void> | null = null;

  constructor(private options: IEventChannelOptions) {}

  get isRunning(): boolean {
    return this.controller !== null;
  }

  /** Keep the channel open until `stop` (idempotent). */
  start(): void {
    if (this.controller) {
      return;
    }
    const controller = (this.controller = new AbortController());
    this.running = this.loop(controller.signal);
  }

  /** Close the stream and stop reconnecting; resolves once the loop has ended. */
  async stop(): Promise<void> {
    this.controller?.abort();
    this.controller = null;
    await this.running;
    this.running = null;
  }

  private async loop(signal: AbortSignal): Promise<void> {
    const sleep = this.options.sleep ?? defaultSleep;
    let failures = 0;
    let opened = 0;
    while (!signal.aborted) {
      let stream: ITextStream;
      try {
        stream = await this.options.openStream(this.lastEventId, signal);
      } catch (e) {
        failures++;
        const status = typeof (e as { status?: unknown }).status === 'number'
          ? ((e as { status: number }).status)
          : null;
        await sleep(reconnectDelay(failures, status), signal);
        continue;
      }
      if (signal.aborted) {
        stream.close();
        break;
      }
      this.options.onOpen?.(opened > 0);
      opened++;
      const clean = await this.read(stream, signal);
      failures = clean ? 0 : failures + 1;
      if (!signal.aborted) {
        await sleep(reconnectDelay(failures), signal);
      }
    }
  }

  /** Dispatch the stream's messages until it ends (true) or fails (false). */
  private async read(stream: ITextStream, signal: AbortSignal): Promise<boolean> {
    let parser: ISSEParserState = { ...SSE_START, lastEventId: this.lastEventId };
    const abort = () => stream.close();
    signal.addEventListener('abort', abort);
    try {
      for (;;) {
        const text = await stream.read();
        if (text === null || signal.aborted) {
          return true;
        }
        const parsed = parseSSE(parser, text);
        parser = parsed.state;
        for (const message of parsed.messages) {
          this.lastEventId = message.lastEventId;
          try {
            this.options.onEvent(message);
          } catch {
            // a listener's bug must not close the channel for the others
          }
        }
      }
    } catch {
      return false; // a network error, the idle timeout
    } finally {
      signal.removeEventListener('abort', abort);
      stream.close();
    }
  }
}
