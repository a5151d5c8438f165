/**
 * Server-sent events (the `text/event-stream` format) read from a fetch body.
 *
 * The parser is a pure function of its state and the next piece of text, so a stream
 * cut anywhere (mid-line, between CR and LF) parses the same as in one piece. It
 * follows the HTML standard's rules: lines end with CRLF, LF or CR; a blank line ends
 * a message; `:` starts a comment; `data` lines are joined with newlines; a message
 * without data is not dispatched. No JupyterLab import, so it is unit-tested.
 */

export interface IServerSentEvent {
  /** The `event` field, `message` when there was none. */
  event: string;
  /** The `data` lines, joined with `\n`. */
  data: string;
  /** The last `id` seen on the stream ('' if none). */
  lastEventId: string;
}

export interface ISSEParserState {
  /** Text after the last line end: a line cut by the end of the piece. */
  partial: string;
  /** The last piece ended with CR: a LF starting the next one ends no second line. */
  afterCR: boolean;
  /** The fields of the message being read. */
  event: string;
  data: string[];
  lastEventId: string;
}

export const SSE_START: ISSEParserState = {
  partial: '',
  afterCR: false,
  event: '',
  data: [],
  lastEventId: ''
};

/** The messages completed by `chunk` and the parser's next state. */
export function parseSSE(
  state: ISSEParserState,
  chunk: string
): { state: ISSEParserState; messages: IServerSentEvent[] } {
  if (!chunk) {
    return { state, messages: [] };
  }
  let text = state.partial + chunk;
  if (state.afterCR && text.startsWith('\n')) {
    text = text.slice(1);
  }
  const lines = text.split(/\r\n|\r|\n/);
  const partial = lines.pop() as string;
  let { event, lastEventId } = state;
  let data = state.data;
  const messages: IServerSentEvent[] = [];
  for (const line of lines) {
    if (line === '') {
      if (data.length > 0) {
        messages.push({ event: event || 'message', data: data.join('\n'), lastEventId });
      }
      event = '';
      data = [];
      continue;
    }
    if (line.startsWith(':')) {
      continue; // a comment: the server's keep-alive
    }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) {
      value = value.slice(1);
    }
    switch (field) {
      case 'event':
        event = value;
        break;
      case 'data':
        data = [...data, value];
        break;
      case 'id':
        if (!value.includes('\0')) {
          lastEventId = value;
        }
        break;
      default:
      // `retry` and unknown fields: nothing to do here
    }
  }
  return {
    state: { partial, afterCR: text.endsWith('\r'), event, data, lastEventId },
    messages
  };
}

/** A response body read as text, piece by piece. */
export interface ITextStream {
  /** The next piece of text, or null once the stream has ended. */
  read(): Promise<string | null>;
  /** Stop reading and let the connection go. */
  close(): void;
}

export class StreamIdleError extends Error {
  constructor(idleMs: number) {
    super(`Nothing arrived on the event stream for ${Math.round(idleMs / 1000)} s.`);
    this.name = 'StreamIdleError';
  }
}

/**
 * Read `body` as UTF-8 text (a character cut between pieces is kept whole). A `read`
 * that waits more than `idleMs` for the next piece fails with StreamIdleError and
 * cancels the body: the server sends keep-alive comments, so silence means the
 * connection is dead without anyone having said so.
 */
export function textStream(body: ReadableStream<Uint8Array>, idleMs: number): ITextStream {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let closed = false;
  const close = () => {
    if (!closed) {
      closed = true;
      reader.cancel().catch(() => undefined);
    }
  };
  return {
    async read() {
      if (closed) {
        return null;
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const idle = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new StreamIdleError(idleMs)), idleMs);
      });
      try {
        for (;;) {
          const { done, value } = await Promise.race([reader.read(), idle]);
          if (done) {
            closed = true;
            const rest = decoder.decode();
            return rest || null;
          }
          const text = decoder.decode(value, { stream: true });
          if (text) {
            return text;
          }
          // bytes of a character still incomplete: read on
        }
      } catch (e) {
        close();
        throw e;
      } finally {
        clearTimeout(timer);
      }
    },
    close
  };
}
