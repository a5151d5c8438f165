import { aiHintCostText, answerCells, applyAIEvent, IAIAnswer, readAIAnswer } from '../src/ai';
import { ITextStream } from '../src/sse';

const START: IAIAnswer = { status: 'error', text: '', exchange: null, error: null };

/** A stream that yields these pieces, then ends (or fails with `failure`). */
function streamOf(pieces: string[], failure?: Error): ITextStream & { closed: boolean } {
  const queue = [...pieces];
  const stream = {
    closed: false,
    async read(): Promise<string | null> {
      if (queue.length) {
        return queue.shift() as string;
      }
      if (failure) {
        throw failure;
      }
      return null;
    },
    close() {
      stream.closed = true;
    }
  };
  return stream;
}

const piece = (text: string) => `data: ${JSON.stringify({ text })}\n\n`;

describe('AI answers', () => {
  it('shows the text as each piece arrives, then how it ended', async () => {
    const seen: string[] = [];
    // cut anywhere: mid-event, mid-JSON
    const whole = piece('Look at ') + piece('the loop.\nIts end.') + 'event: done\ndata: {"exchange": 7, "status": "ok"}\n\n';
    const stream = streamOf([whole.slice(0, 5), whole.slice(5, 30), whole.slice(30)]);
    const answer = await readAIAnswer(stream, a => seen.push(a.text));
    expect(answer).toEqual({ status: 'ok', text: 'Look at the loop.\nIts end.', exchange: 7, error: null });
    expect(seen).toContain('Look at ');
    expect(stream.closed).toBe(true);
  });

  it('an error event names the problem', async () => {
    const text = piece('Half') + 'event: error\ndata: {"exchange": 3, "message": "the model answered HTTP 500"}\n\n';
    const answer = await readAIAnswer(streamOf([text]), () => undefined);
    expect(answer.status).toBe('error');
    expect(answer.error).toBe('the model answered HTTP 500');
    expect(answer.text).toBe('Half');
  });

  it('a stream that breaks off or fails is an error', async () => {
    const cut = await readAIAnswer(streamOf([piece('Half')]), () => undefined);
    expect(cut.status).toBe('error');
    expect(cut.error).toMatch(/broke off/);
    const failed = await readAIAnswer(streamOf([], new Error('Nothing arrived')), () => undefined);
    expect(failed.error).toBe('Nothing arrived');
  });

  it('ignores what it cannot read', () => {
    const bad = applyAIEvent(START, { event: 'message', data: 'not json', lastEventId: '' });
    expect(bad).toBe(START);
  });
});

describe('answer cells', () => {
  it('are the solution code cells, in order', () => {
    const cells = [
      { cell_type: 'markdown', source: 'task', metadata: { nbgrader: { solution: false } } },
      { cell_type: 'code', source: ['def f():\n', '    pass'], metadata: { nbgrader: { solution: true } } },
      { cell_type: 'code', source: 'assert f() is None', metadata: { nbgrader: { solution: false } } },
      { cell_type: 'code', source: 'scratch', metadata: {} },
      { cell_type: 'code', source: 'x = 1', metadata: { nbgrader: { solution: true } } }
    ];
    expect(answerCells(cells)).toEqual(['def f():\n    pass', 'x = 1']);
  });

  it('say what a hint costs', () => {
    expect(aiHintCostText(0.25)).toMatch(/25%/);
    expect(aiHintCostText(0)).toMatch(/Free/);
  });
});
