import { IServerSentEvent, parseSSE, SSE_START, StreamIdleError, textStream } from '../src/sse';

/** Every message in `pieces`, fed to the parser one after the other. */
function parseAll(pieces: string[]): IServerSentEvent[] {
  let state = SSE_START;
  const messages: IServerSentEvent[] = [];
  for (const piece of pieces) {
    const parsed = parseSSE(state, piece);
    state = parsed.state;
    messages.push(...parsed.messages);
  }
  return messages;
}

const submission = (status: string) =>
  `event: submission\ndata: {"id": 7, "status": "${status}", "queue_position": 3}\n\n`;

describe('server-sent events parser', () => {
  it('reads the event name and the data of each message', () => {
    expect(parseAll([submission('queued') + submission('running')])).toEqual([
      {
        event: 'submission',
        data: '{"id": 7, "status": "queued", "queue_position": 3}',
        lastEventId: ''
      },
      {
        event: 'submission',
        data: '{"id": 7, "status": "running", "queue_position": 3}',
        lastEventId: ''
      }
    ]);
  });

  it('gives the same messages however the stream is cut, mid-line included', () => {
    const text = ': hello\n\n' + submission('queued') + ': keep-alive\n\n' + submission('graded');
    const whole = parseAll([text]);
    expect(whole.map(m => JSON.parse(m.data).status)).toEqual(['queued', 'graded']);
    for (let cut = 0; cut <= text.length; cut++) {
      expect(parseAll([text.slice(0, cut), text.slice(cut)])).toEqual(whole);
    }
    expect(parseAll(text.split(''))).toEqual(whole);
  });

  it('dispatches a message only at the blank line that ends it', () => {
    const { state, messages } = parseSSE(SSE_START, 'event: submission\ndata: {}\n');
    expect(messages).toEqual([]);
    expect(parseSSE(state, '\n').messages).toEqual([
      { event: 'submission', data: '{}', lastEventId: '' }
    ]);
  });

  it('joins data lines with newlines', () => {
    expect(parseAll(['data: first\ndata:second\ndata\ndata:  indented\n\n'])).toEqual([
      { event: 'message', data: 'first\nsecond\n\n indented', lastEventId: '' }
    ]);
  });

  it('skips comments, including between the lines of a message', () => {
    const text = ':keep-alive\n\n: another\n\nevent: submission\n: in between\ndata: 1\n\n';
    expect(parseAll([text])).toEqual([{ event: 'submission', data: '1', lastEventId: '' }]);
  });

  it('takes CRLF and CR as line ends, even split between pieces', () => {
    const crlf = 'event: submission\r\ndata: 1\r\n\r\nevent: submission\r\ndata: 2\r\n\r\n';
    const expected = [
      { event: 'submission', data: '1', lastEventId: '' },
      { event: 'submission', data: '2', lastEventId: '' }
    ];
    expect(parseAll([crlf])).toEqual(expected);
    const cutInCRLF = ['event: submission\r', '\ndata: 1\r', '\n\r', '\n', crlf.slice(30)];
    expect(parseAll(cutInCRLF)).toEqual(expected);
    expect(parseAll([crlf.replace(/\r\n/g, '\r')])).toEqual(expected);
    expect(parseAll(['data: 1\r', '\r', 'data: 2\r\r'])).toEqual([
      { event: 'message', data: '1', lastEventId: '' },
      { event: 'message', data: '2', lastEventId: '' }
    ]);
  });

  it('drops a message without data and forgets its event name', () => {
    expect(parseAll(['event: submission\n\ndata: x\n\n'])).toEqual([
      { event: 'message', data: 'x', lastEventId: '' }
    ]);
  });

  it('keeps the last event id for the messages after it', () => {
    expect(parseAll(['id: 4\ndata: a\n\ndata: b\n\n']).map(m => m.lastEventId)).toEqual(['4', '4']);
  });
});

/** A body giving `pieces`, then staying open without a word, as a quiet server does. */
function bodyOf(pieces: Uint8Array[], cancelled: string[] = []): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = pieces.shift();
      if (next) {
        controller.enqueue(next);
      }
    },
    cancel(reason) {
      cancelled.push(String(reason));
    }
  });
}

describe('text stream of a response body', () => {
  it('decodes UTF-8, keeping a character cut between pieces whole, then ends', async () => {
    const bytes = new TextEncoder().encode('data: café ✓\n\n');
    const cut = bytes.indexOf(0xc3) + 1; // inside "é"
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(bytes.slice(0, cut));
        controller.enqueue(bytes.slice(cut));
        controller.close();
      }
    });
    const stream = textStream(body, 1000);
    const texts: string[] = [];
    for (let text = await stream.read(); text !== null; text = await stream.read()) {
      texts.push(text);
    }
    expect(texts.join('')).toBe('data: café ✓\n\n');
    expect(texts[0]).toBe('data: caf');
  });

  it('gives up on a body that says nothing for too long, and cancels it', async () => {
    const cancelled: string[] = [];
    const stream = textStream(bodyOf([new TextEncoder().encode(': hi\n\n')], cancelled), 30);
    expect(await stream.read()).toBe(': hi\n\n');
    await expect(stream.read()).rejects.toBeInstanceOf(StreamIdleError);
    expect(cancelled.length).toBe(1);
    expect(await stream.read()).toBeNull();
  });

  it('cancels the body when closed', async () => {
    const cancelled: string[] = [];
    const stream = textStream(bodyOf([], cancelled), 1000);
    stream.close();
    expect(cancelled.length).toBe(1);
    expect(await stream.read()).toBeNull();
  });
});
