import {
  followSubmission,
  IFollowOptions,
  INITIAL_STATE,
  IResultState,
  isFinal,
  queueDetail,
  reduce,
  statusText,
  submissionOf
} from '../src/results';
import { ITextStream } from '../src/sse';
import { ISubmission, SubmissionStatus } from '../src/types';

function submission(status: SubmissionStatus, fields: Partial<ISubmission> = {}): ISubmission {
  return { id: 7, status, score: null, max_score: null, tests: null, ...fields };
}

const graded = submission('graded', {
  score: 1,
  max_score: 3,
  tests: [
    { name: 'test_add', points: 1, max_points: 1, passed: true, hidden: false, message: null },
    {
      name: 'hidden_1',
      points: 0,
      max_points: 2,
      passed: false,
      hidden: true,
      message: 'hidden test failed: AssertionError'
    }
  ]
});

function submitted(): IResultState {
  let state = reduce(INITIAL_STATE, { type: 'save' });
  state = reduce(state, { type: 'submit' });
  return reduce(state, { type: 'submitted', id: 7, status: 'queued' });
}

describe('result state', () => {
  it('goes saving -> submitting -> queued -> running -> graded', () => {
    let state = reduce(INITIAL_STATE, { type: 'save' });
    expect(statusText(state)).toBe('saving');
    state = reduce(state, { type: 'submit' });
    expect(statusText(state)).toBe('submitting');
    state = reduce(state, { type: 'submitted', id: 7, status: 'queued' });
    expect(state.submissionId).toBe('7');
    expect(statusText(state)).toBe('queued');
    state = reduce(state, { type: 'received', submission: submission('running') });
    expect(statusText(state)).toBe('running');
    expect(isFinal(state)).toBe(false);
    state = reduce(state, { type: 'received', submission: graded });
    expect(statusText(state)).toBe('graded');
    expect(state.submission?.score).toBe(1);
    expect(isFinal(state)).toBe(true);
  });

  it("shows a grading error's message", () => {
    const state = reduce(submitted(), {
      type: 'received',
      submission: submission('error', { error: 'The notebook is not valid JSON.' })
    });
    expect(state.phase).toBe('error');
    expect(state.message).toBe('The notebook is not valid JSON.');
  });

  it('keeps a final state until the next submission', () => {
    const done = reduce(submitted(), { type: 'received', submission: graded });
    expect(reduce(done, { type: 'received', submission: submission('running') })).toBe(done);
    expect(reduce(done, { type: 'save' }).phase).toBe('saving');
  });

  it('tells a queued submission its place and wait', () => {
    const queued = reduce(submitted(), {
      type: 'received',
      submission: submission('queued', { queue_position: 3, estimated_wait: 12.5 })
    });
    expect(statusText(queued)).toBe('queued');
    expect(queueDetail(queued)).toBe('3rd in line, about 15 s');
    expect(queueDetail(submitted())).toBe('');
    const running = reduce(queued, { type: 'received', submission: submission('running') });
    expect(queueDetail(running)).toBe('');
  });

  it('turns a failed request into an error with its message', () => {
    const state = reduce(submitted(), { type: 'failed', message: 'Not found.' });
    expect(state.phase).toBe('error');
    expect(state.message).toBe('Not found.');
  });
});

describe('submission events', () => {
  it('takes the data of a submission event, nothing else', () => {
    expect(submissionOf('{"id": 7, "status": "running"}')).toEqual({ id: 7, status: 'running' });
    expect(submissionOf('not json')).toBeNull();
    expect(submissionOf('null')).toBeNull();
    expect(submissionOf('{"id": 7, "status": "lost"}')).toBeNull();
  });
});

/** One `event: submission` message as the server sends it. */
function message(status: SubmissionStatus, fields: Partial<ISubmission> = {}): string {
  return `event: submission\ndata: ${JSON.stringify(submission(status, fields))}\n\n`;
}

/** A fake event stream: each read gives the next piece; an Error fails it; then the end. */
class FakeStream implements ITextStream {
  closed = false;
  constructor(private pieces: (string | Error)[]) {}

  async read(): Promise<string | null> {
    const next = this.pieces.shift();
    if (next instanceof Error) {
      throw next;
    }
    return next ?? null;
  }

  close(): void {
    this.closed = true;
  }
}

/**
 * A scripted server: `streams` are what each opening of the event stream gives (a
 * FakeStream, or an Error to refuse it; refused once they run out), `polls` the answers
 * to GET submissions/{id}. Records the calls, the sleeps and every state reported.
 */
function server(streams: (FakeStream | Error)[], polls: (ISubmission | Error)[] = []) {
  const record = {
    opened: [] as string[],
    fetched: [] as string[],
    sleeps: [] as number[],
    phases: [] as string[],
    states: [] as IResultState[]
  };
  const options: IFollowOptions = {
    openStream: async id => {
      record.opened.push(id);
      const next = streams.shift() ?? new Error('no stream');
      if (next instanceof Error) {
        throw next;
      }
      return next;
    },
    fetch: async id => {
      record.fetched.push(id);
      const next = polls.shift() ?? new Error('no more answers');
      if (next instanceof Error) {
        throw next;
      }
      return next;
    },
    sleep: async ms => {
      record.sleeps.push(ms);
    },
    update: state => {
      record.phases.push(state.phase);
      record.states.push(state);
    }
  };
  return { record, options };
}

describe('following a submission', () => {
  it('follows the event stream to the final status, without polling', async () => {
    const queued = message('queued', { queue_position: 3, estimated_wait: 12.5 });
    const stream = new FakeStream([
      ': connected\n\n',
      queued.slice(0, 30),
      queued.slice(30),
      ': keep-alive\n\n' + message('running') + message('graded', { score: 1, max_score: 3 })
    ]);
    const { record, options } = server([stream]);
    const final = await followSubmission(submitted(), options);
    expect(final.phase).toBe('graded');
    expect(final.submission?.score).toBe(1);
    expect(record.phases).toEqual(['queued', 'running', 'graded']);
    expect(queueDetail(record.states[0])).toBe('3rd in line, about 15 s');
    expect(record.opened).toEqual(['7']);
    expect(record.fetched).toEqual([]);
    expect(record.sleeps).toEqual([]);
    expect(stream.closed).toBe(true);
  });

  it('polls every 3 s when the stream cannot be opened, trying it again a few times', async () => {
    const { record, options } = server(
      [],
      [submission('queued'), submission('queued'), submission('running'), graded]
    );
    const final = await followSubmission(submitted(), options);
    expect(final.phase).toBe('graded');
    expect(record.phases).toEqual(['queued', 'queued', 'running', 'graded']);
    expect(record.opened).toEqual(['7', '7', '7']);
    expect(record.fetched).toEqual(['7', '7', '7', '7']);
    expect(record.sleeps).toEqual([3000, 3000, 3000, 3000]);
  });

  it('polls once, then opens a new stream, when one breaks off', async () => {
    const broken = new FakeStream([message('queued'), new Error('network error')]);
    const second = new FakeStream([message('running'), message('graded')]);
    const { record, options } = server([broken, second], [submission('running')]);
    const final = await followSubmission(submitted(), options);
    expect(final.phase).toBe('graded');
    expect(record.phases).toEqual(['queued', 'running', 'running', 'graded']);
    expect(record.opened.length).toBe(2);
    expect(record.fetched.length).toBe(1);
    expect(record.sleeps).toEqual([3000]);
    expect(broken.closed && second.closed).toBe(true);
  });

  it('takes a stream that ends before a final status for a broken one', async () => {
    const { record, options } = server([new FakeStream([message('running')])], [graded]);
    const final = await followSubmission(submitted(), options);
    expect(final.phase).toBe('graded');
    expect(record.phases).toEqual(['running', 'graded']);
    expect(record.fetched.length).toBe(1);
  });

  it('skips other events, and leaves a stream that sends something else', async () => {
    const odd = new FakeStream([
      'event: ping\ndata: {"status": "graded"}\n\n',
      'event: submission\ndata: not json\n\n',
      message('graded')
    ]);
    const { record, options } = server([odd], [submission('running'), graded]);
    const final = await followSubmission(submitted(), { ...options, maxStreams: 1 });
    expect(final.phase).toBe('graded');
    expect(record.phases).toEqual(['running', 'graded']);
    expect(odd.closed).toBe(true);
    expect(record.fetched.length).toBe(2);
  });

  it('shows a grading error sent on the stream', async () => {
    const stream = new FakeStream([message('error', { error: 'The notebook is not valid.' })]);
    const { options } = server([stream]);
    const final = await followSubmission(submitted(), options);
    expect(final.phase).toBe('error');
    expect(final.message).toBe('The notebook is not valid.');
  });

  it('rides out a failed poll or two, then gives up with the message', async () => {
    const blip = server([], [new Error('blip'), submission('running'), graded]);
    expect((await followSubmission(submitted(), blip.options)).phase).toBe('graded');

    const down = server([], [new Error('a'), new Error('b'), new Error('The server is down.')]);
    const final = await followSubmission(submitted(), down.options);
    expect(final.phase).toBe('error');
    expect(final.message).toBe('The server is down.');
    expect(down.record.phases).toEqual(['error']);
  });

  it('stops when cancelled, without reporting, and closes the stream', async () => {
    let cancel = false;
    const stream = new FakeStream([message('queued'), message('running'), message('graded')]);
    const read = stream.read.bind(stream);
    stream.read = async () => {
      const text = await read();
      cancel = record.phases.length === 1;
      return text;
    };
    const { record, options } = server([stream]);
    const final = await followSubmission(submitted(), { ...options, cancelled: () => cancel });
    expect(final.phase).toBe('queued');
    expect(record.phases).toEqual(['queued']);
    expect(stream.closed).toBe(true);
    expect(record.fetched).toEqual([]);
  });

  it('gives up after the most polls allowed', async () => {
    const running = submission('running');
    const { options } = server([], [running, running, running]);
    const final = await followSubmission(submitted(), { ...options, maxPolls: 3 });
    expect(final.phase).toBe('error');
    expect(final.message).toMatch(/taking too long/);
  });

  it('does nothing without a submission id', async () => {
    const { record, options } = server([new FakeStream([message('graded')])]);
    const state = reduce(INITIAL_STATE, { type: 'save' });
    expect(await followSubmission(state, options)).toBe(state);
    expect(record.opened).toEqual([]);
  });
});
