import { INITIAL_STATE, IResultState, isFinal, pollSubmission, reduce, statusText } from '../src/results';
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
    state = reduce(state, { type: 'polled', submission: submission('running') });
    expect(statusText(state)).toBe('running');
    expect(isFinal(state)).toBe(false);
    state = reduce(state, { type: 'polled', submission: graded });
    expect(statusText(state)).toBe('graded');
    expect(state.submission?.score).toBe(1);
    expect(isFinal(state)).toBe(true);
  });

  it("shows a grading error's message", () => {
    const state = reduce(submitted(), {
      type: 'polled',
      submission: submission('error', { error: 'The notebook is not valid JSON.' })
    });
    expect(state.phase).toBe('error');
    expect(state.message).toBe('The notebook is not valid JSON.');
  });

  it('keeps a final state until the next submission', () => {
    const done = reduce(submitted(), { type: 'polled', submission: graded });
    expect(reduce(done, { type: 'polled', submission: submission('running') })).toBe(done);
    expect(reduce(done, { type: 'save' }).phase).toBe('saving');
  });

  it('turns a failed request into an error with its message', () => {
    const state = reduce(submitted(), { type: 'failed', message: 'Not found.' });
    expect(state.phase).toBe('error');
    expect(state.message).toBe('Not found.');
  });
});

describe('polling', () => {
  function scripted(answers: (ISubmission | Error)[]) {
    const calls: string[] = [];
    return {
      calls,
      fetch: async (id: string) => {
        calls.push(id);
        const next = answers.shift();
        if (next === undefined) {
          throw new Error('no more answers');
        }
        if (next instanceof Error) {
          throw next;
        }
        return next;
      }
    };
  }
  const noSleep = async () => undefined;

  it('polls every interval until graded, reporting each state', async () => {
    const server = scripted([submission('queued'), submission('running'), graded]);
    const sleeps: number[] = [];
    const seen: string[] = [];
    const final = await pollSubmission(submitted(), {
      fetch: server.fetch,
      sleep: async ms => {
        sleeps.push(ms);
      },
      update: s => seen.push(s.phase)
    });
    expect(final.phase).toBe('graded');
    expect(seen).toEqual(['queued', 'running', 'graded']);
    expect(server.calls).toEqual(['7', '7', '7']);
    expect(sleeps).toEqual([500, 500, 500]);
  });

  it('rides out a failed request or two, then gives up with the message', async () => {
    const blip = scripted([new Error('blip'), submission('running'), graded]);
    expect((await pollSubmission(submitted(), { ...blip, sleep: noSleep, update: () => {} })).phase).toBe(
      'graded'
    );

    const down = scripted([new Error('a'), new Error('b'), new Error('The server is down.')]);
    const final = await pollSubmission(submitted(), { ...down, sleep: noSleep, update: () => {} });
    expect(final.phase).toBe('error');
    expect(final.message).toBe('The server is down.');
  });

  it('stops when cancelled, without reporting', async () => {
    const server = scripted([submission('running'), graded]);
    const seen: string[] = [];
    let cancel = false;
    const final = await pollSubmission(submitted(), {
      fetch: async id => {
        cancel = true;
        return server.fetch(id);
      },
      sleep: noSleep,
      update: s => seen.push(s.phase),
      cancelled: () => cancel
    });
    expect(final.phase).toBe('running');
    expect(seen).toEqual([]);
  });

  it('gives up after the most polls allowed', async () => {
    const final = await pollSubmission(submitted(), {
      fetch: async () => submission('running'),
      sleep: noSleep,
      update: () => {},
      maxPolls: 3
    });
    expect(final.phase).toBe('error');
    expect(final.message).toMatch(/taking too long/);
  });

  it('does nothing without a submission id', async () => {
    const state = reduce(INITIAL_STATE, { type: 'save' });
    expect(await pollSubmission(state, { fetch: async () => graded, sleep: noSleep, update: () => {} })).toBe(
      state
    );
  });
});
