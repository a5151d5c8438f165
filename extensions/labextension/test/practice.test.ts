import {
  acceptable,
  cleanOpponentName,
  duelNotice,
  duelOfEvent,
  duelOutcome,
  duelProgressText,
  duelStatusText,
  groupDuels,
  otherName,
  ratingChange,
  ratingChangeText
} from '../src/practice/duels';
import { DuelFeed } from '../src/practice/feed';
import {
  dailyStatusText,
  dailyStreakText,
  dueCountsText,
  dueLabel,
  durationText,
  itemScoreText,
  itemsProgress,
  localDeadline,
  moduleLabel,
  newPathProblem,
  nextItem,
  noReviewText,
  orderPaths,
  pathProgress,
  practiceCaption,
  quizPhase,
  quizScoreText,
  quizSummaryText,
  relativeText,
  timeLeftText,
  timeLimitText,
  typeText
} from '../src/practice/format';
import { FreshCopies } from '../src/practice/opener';
import { EventChannel, reconnectDelay } from '../src/practice/stream';
import { IDuel, IQuiz } from '../src/practice/types';
import { IServerSentEvent, ITextStream } from '../src/sse';

const NOW = Date.parse('2025-03-03T12:00:00Z');
const MIN = 60_000;
const HOUR = 60 * MIN;

function duel(fields: Partial<IDuel> = {}): IDuel {
  return {
    id: 1,
    course: 'py',
    challenger: { name: 'ada', display_name: 'Ada L.' },
    opponent: { name: 'bob', display_name: null },
    bot: false,
    status: 'active',
    time_limit: 600,
    created: '2025-03-03T11:50:00Z',
    started: '2025-03-03T11:55:00Z',
    deadline: '2025-03-03T12:05:00Z',
    remaining: 300,
    question: { id: 9, title: 'Sum a list' },
    result: null,
    winner: null,
    you: 'challenger',
    ratings: null,
    ...fields
  };
}

describe('times', () => {
  it('says durations as a learner would', () => {
    expect(durationText(20_000)).toBe('less than a minute');
    expect(durationText(5 * MIN)).toBe('5 min');
    expect(durationText(3 * HOUR)).toBe('3 h');
    expect(durationText(47 * HOUR)).toBe('47 h');
    expect(durationText(72 * HOUR)).toBe('3 days');
  });

  it('says times ahead and past', () => {
    expect(relativeText(NOW + 3 * HOUR, NOW)).toBe('in 3 h');
    expect(relativeText(NOW - 10 * MIN, NOW)).toBe('10 min ago');
    expect(relativeText(NOW + 10_000, NOW)).toBe('now');
  });

  it('counts down from the seconds the grader gave, in the browser clock', () => {
    // the browser's clock is an hour off the grader's: the deadline string would lie
    const received = NOW;
    expect(localDeadline(90, '2025-03-03T13:01:30Z', received)).toBe(NOW + 90_000);
    expect(localDeadline(-5, null, received)).toBe(NOW);
    expect(localDeadline(null, '2025-03-03T12:10:00Z', received)).toBe(NOW + 10 * MIN);
    expect(localDeadline(null, null, received)).toBeNull();
  });

  it('shows a clock, then that the time is up', () => {
    expect(timeLeftText(NOW + 4 * MIN + 59_000, NOW)).toBe('4:59');
    expect(timeLeftText(NOW + 1, NOW)).toBe('0:01');
    expect(timeLeftText(NOW, NOW)).toBe('time is up');
  });

  it('writes time limits', () => {
    expect(timeLimitText(null)).toBe('no time limit');
    expect(timeLimitText(0)).toBe('no time limit');
    expect(timeLimitText(45)).toBe('45 s');
    expect(timeLimitText(600)).toBe('10 min');
    expect(timeLimitText(5400)).toBe('1 h 30 min');
    expect(timeLimitText(7200)).toBe('2 h');
  });
});

describe('reviews', () => {
  it('writes the due counts', () => {
    expect(dueCountsText({ due_now: 2, due_today: 5, next_7_days: 9, total: 20 })).toBe(
      '2 due now · 5 today · 9 in the next 7 days'
    );
    expect(dueCountsText(null)).toBe('');
  });

  it('labels a due review', () => {
    expect(dueLabel('2025-03-03T12:00:00Z', NOW)).toBe('due now');
    expect(dueLabel('2025-03-03T11:50:00Z', NOW)).toBe('due now');
    expect(dueLabel('2025-03-01T12:00:00Z', NOW)).toBe('due 2 days ago');
    expect(dueLabel('2025-03-03T15:00:00Z', NOW)).toBe('due in 3 h');
    expect(dueLabel(null, NOW)).toBe('');
  });

  it('says when the next review comes when none is due', () => {
    expect(noReviewText('2025-03-03T15:00:00Z', 4, NOW)).toBe(
      'Nothing to review now. Next review in 3 h.'
    );
    expect(noReviewText(null, 4, NOW)).toBe('Nothing to review now.');
    expect(noReviewText(null, 0, NOW)).toMatch(/^No reviews yet/);
  });

  it('puts the reviews due in the tab caption', () => {
    expect(practiceCaption(3)).toMatch(/\(3 reviews due\)$/);
    expect(practiceCaption(1)).toMatch(/\(1 review due\)$/);
    expect(practiceCaption(0)).not.toMatch(/\(.*due\)/);
    expect(practiceCaption(null)).not.toMatch(/\(.*due\)/);
  });
});

describe('the daily question', () => {
  it('says whether it is solved today', () => {
    const question = { id: 1, title: 'Q' };
    expect(dailyStatusText({ question, solved_today: true })).toBe('solved today');
    expect(dailyStatusText({ question, solved_today: false })).toBe('not solved yet today');
    expect(dailyStatusText({ question: null, solved_today: false })).toBe('');
  });

  it('writes the streak and the best one when it was longer', () => {
    expect(dailyStreakText({ streak: 3, best_streak: 3 })).toBe('3-day streak');
    expect(dailyStreakText({ streak: 1, best_streak: 5 })).toBe('1-day streak (best 5)');
    expect(dailyStreakText({ streak: 0, best_streak: 4 })).toBe('no streak yet (best 4)');
    expect(dailyStreakText({ streak: 0, best_streak: 0 })).toBe('no streak yet');
  });
});

describe('paths', () => {
  it('gives the progress, clamped', () => {
    expect(pathProgress({ solved: 2, total: 5, percent: 40 })).toEqual({
      solved: 2,
      total: 5,
      percent: 40,
      text: '2 / 5 solved'
    });
    expect(pathProgress({ solved: 7, total: 5, percent: 140 }).percent).toBe(100);
    expect(pathProgress({ solved: 7, total: 5, percent: 140 }).solved).toBe(5);
    expect(pathProgress({ solved: 0, total: 0, percent: NaN }).percent).toBe(0);
    const items = [{ solved: true }, { solved: false }, { solved: true }, { solved: false }];
    expect(itemsProgress(items)).toEqual({
      solved: 2,
      total: 4,
      percent: 50,
      text: '2 / 4 solved'
    });
  });

  it('finds the next item and puts followed paths first', () => {
    const items = [
      { id: 1, solved: true },
      { id: 2, solved: false },
      { id: 3, solved: false }
    ];
    expect(nextItem(items)?.id).toBe(2);
    expect(nextItem([{ id: 1, solved: true }])).toBeNull();
    const paths = [
      { id: 1, enrolled: false },
      { id: 2, enrolled: true },
      { id: 3, enrolled: false },
      { id: 4, enrolled: true }
    ];
    expect(orderPaths(paths).map(p => p.id)).toEqual([2, 4, 1, 3]);
  });

  it('checks a new private path', () => {
    expect(newPathProblem('  ', [1])).toMatch(/title/);
    expect(newPathProblem('Mine', [])).toMatch(/question/);
    expect(newPathProblem('Mine', [1, 2])).toBeNull();
  });

  it('writes an item score and type', () => {
    expect(itemScoreText({ best_score: 2, points: 3 })).toBe('2 / 3');
    expect(itemScoreText({ best_score: null, points: 3 })).toBe('– / 3');
    expect(itemScoreText({ best_score: 0.5, points: 1 })).toBe('0.5 / 1');
    expect(moduleLabel({ module: 3, module_slug: 'loops' })).toBe('loops');
    expect(moduleLabel({ module: 'loops' })).toBe('loops');
    expect(moduleLabel({ module: 3 })).toBeNull();
    expect(moduleLabel({})).toBeNull();
    expect(typeText('choice')).toBe('multiple choice');
    expect(typeText('fill_in')).toBe('fill in');
    expect(typeText('flashcard')).toBe('flashcard');
    expect(typeText(undefined)).toBe('notebook');
  });
});

describe('quizzes', () => {
  const attempt = {
    started: '2025-03-03T11:55:00Z',
    deadline: '2025-03-03T12:05:00Z',
    finished: null,
    remaining: 300,
    questions: [],
    score: 2,
    max_score: 5
  };
  const quiz = (fields: Partial<IQuiz> = {}): IQuiz => ({
    id: 1,
    course: 'py',
    slug: 'q',
    title: 'Quiz',
    count: 5,
    time_limit: 600,
    attempt: null,
    ...fields
  });

  it('knows where the learner is', () => {
    expect(quizPhase(quiz(), null, NOW)).toBe('new');
    expect(quizPhase(quiz({ attempt }), NOW + 5 * MIN, NOW)).toBe('running');
    expect(quizPhase(quiz({ attempt }), NOW, NOW)).toBe('finished'); // the time is up
    expect(quizPhase(quiz({ attempt: { ...attempt, remaining: null } }), null, NOW)).toBe(
      'running'
    ); // untimed
    expect(
      quizPhase(quiz({ attempt: { ...attempt, finished: '2025-03-03T11:58:00Z' } }), NOW + MIN, NOW)
    ).toBe('finished');
  });

  it('writes the score and the summary', () => {
    expect(quizScoreText(attempt)).toBe('2 / 5');
    expect(quizSummaryText(quiz())).toBe('5 questions · 10 min');
    expect(quizSummaryText(quiz({ count: 1, time_limit: null }))).toBe(
      '1 question · no time limit'
    );
  });
});

describe('duels', () => {
  it('names the other participant as "you" see them', () => {
    expect(otherName(duel())).toBe('bob');
    expect(otherName(duel({ you: 'opponent' }))).toBe('Ada L.');
    expect(otherName(duel({ bot: true, opponent: null }))).toBe('the bot');
    expect(otherName(duel({ opponent: null, status: 'open' }))).toBeNull();
    expect(otherName(duel({ you: null, status: 'open', opponent: null }))).toBe('Ada L.');
  });

  it('writes the status line of every state', () => {
    expect(duelStatusText(duel({ status: 'open', opponent: null }))).toBe(
      'Open challenge: waiting for someone to accept'
    );
    expect(duelStatusText(duel({ status: 'open' }))).toBe('Waiting for bob to accept');
    expect(duelStatusText(duel({ status: 'open', you: 'opponent' }))).toBe(
      'Ada L. challenges you'
    );
    expect(duelStatusText(duel({ status: 'open', you: null, opponent: null }))).toBe(
      'Ada L. is looking for an opponent'
    );
    expect(duelStatusText(duel())).toBe('Duel against bob: the first full score wins');
    expect(duelStatusText(duel({ bot: true, opponent: null }))).toBe(
      'Duel against the bot: the first full score wins'
    );
    expect(duelStatusText(duel({ status: 'finished', result: 'challenger' }))).toBe(
      'You won against bob'
    );
    const lost = duel({ status: 'finished', result: 'challenger', you: 'opponent' });
    expect(duelStatusText(lost)).toBe('Ada L. won');
    expect(
      duelStatusText(duel({ status: 'finished', result: 'opponent', bot: true, opponent: null }))
    ).toBe('The bot won');
    expect(duelStatusText(duel({ status: 'finished', result: 'draw' }))).toMatch(
      /^Draw against bob/
    );
    expect(duelStatusText(duel({ status: 'declined' }))).toBe('Bob declined');
    expect(duelStatusText(duel({ status: 'declined', you: 'opponent' }))).toBe('You declined');
    expect(duelStatusText(duel({ status: 'cancelled' }))).toBe('Cancelled');
    expect(duelStatusText(duel({ status: 'cancelled', you: 'opponent' }))).toBe(
      'Ada L. withdrew the challenge'
    );
  });

  it('gives the outcome for "you" only once finished', () => {
    expect(duelOutcome(duel())).toBeNull();
    expect(duelOutcome(duel({ status: 'finished', result: 'challenger' }))).toBe('won');
    expect(duelOutcome(duel({ status: 'finished', result: 'opponent' }))).toBe('lost');
    expect(duelOutcome(duel({ status: 'finished', result: 'draw', you: 'opponent' }))).toBe('draw');
    expect(duelOutcome(duel({ status: 'finished', result: 'draw', you: null }))).toBeNull();
  });

  it('gives the rating change of "your" side', () => {
    const ratings: IDuel['ratings'] = {
      challenger: { before: 1200, after: 1216.4 },
      opponent: { before: 1250, after: 1233.6 }
    };
    expect(ratingChange(duel({ ratings }))).toBe(16);
    expect(ratingChange(duel({ ratings, you: 'opponent' }))).toBe(-16);
    // as stored: [before, after]
    expect(ratingChange(duel({ ratings: { challenger: [1200, 1190] } }))).toBe(-10);
    expect(ratingChange(duel({ ratings, you: null }))).toBeNull();
    expect(ratingChange(duel())).toBeNull();
    const odd = { challenger: [1, 2, 3] as unknown as [number, number] };
    expect(ratingChange(duel({ ratings: odd }))).toBeNull();
    expect(ratingChangeText(16)).toBe('+16');
    expect(ratingChangeText(-8)).toBe('-8');
    expect(ratingChangeText(0)).toBe('±0');
    expect(ratingChangeText(null)).toBe('');
  });

  it('sorts "your" duels by what they need, the history newest first', () => {
    const groups = groupDuels([
      duel({ id: 1, status: 'open', you: 'opponent' }),
      duel({ id: 2, status: 'open' }),
      duel({ id: 3 }),
      duel({ id: 4, status: 'finished', started: '2025-03-01T10:00:00Z' }),
      duel({ id: 5, status: 'declined', started: null, created: '2025-03-02T10:00:00Z' }),
      duel({ id: 6, status: 'cancelled', started: null, created: '2025-02-01T10:00:00Z' })
    ]);
    expect(groups.incoming.map(d => d.id)).toEqual([1]);
    expect(groups.waiting.map(d => d.id)).toEqual([2]);
    expect(groups.active.map(d => d.id)).toEqual([3]);
    expect(groups.history.map(d => d.id)).toEqual([5, 4, 6]);
  });

  it('offers only others\' open challenges not already listed', () => {
    const mine = [duel({ id: 2, status: 'open', you: 'opponent' })];
    const open = [
      duel({ id: 1, status: 'open', you: null, opponent: null }),
      duel({ id: 2, status: 'open', you: 'opponent' }),
      duel({ id: 3, status: 'open', you: 'challenger', opponent: null }),
      duel({ id: 4, status: 'active', you: null })
    ];
    expect(acceptable(open, mine).map(d => d.id)).toEqual([1]);
  });

  it('cleans a typed opponent name', () => {
    expect(cleanOpponentName('  @bob ')).toBe('bob');
    expect(cleanOpponentName('   ')).toBeNull();
  });
});

describe('duel notices', () => {
  it('tells a challenge received, a start, a win, a loss, a draw, a refusal', () => {
    expect(duelNotice(null, duel({ status: 'open', you: 'opponent' }))).toEqual({
      level: 'info',
      text: 'Ada L. challenges you to a duel.'
    });
    expect(duelNotice('open', duel())).toEqual({
      level: 'info',
      text: 'Duel started against bob: Sum a list.'
    });
    expect(
      duelNotice(
        'active',
        duel({
          status: 'finished',
          result: 'challenger',
          ratings: { challenger: { before: 1200, after: 1212 } }
        })
      )
    ).toEqual({ level: 'success', text: 'You won the duel against bob (+12)!' });
    const botWon = duel({ status: 'finished', result: 'opponent', bot: true, opponent: null });
    expect(duelNotice('active', botWon)).toEqual({
      level: 'warning',
      text: 'You lost the duel against the bot.'
    });
    expect(duelNotice('active', duel({ status: 'finished', result: 'draw' }))?.text).toBe(
      'The duel against bob is a draw.'
    );
    expect(duelNotice('open', duel({ status: 'declined' }))?.text).toBe(
      'Bob declined your challenge.'
    );
  });

  it('tells nothing twice, nor one\'s own moves', () => {
    expect(duelNotice('active', duel())).toBeNull();
    expect(duelNotice(null, duel({ status: 'open' }))).toBeNull(); // one's own challenge
    expect(duelNotice('open', duel({ status: 'declined', you: 'opponent' }))).toBeNull();
    expect(duelNotice('open', duel({ status: 'cancelled' }))).toBeNull();
  });
});

describe('pushed duels', () => {
  const message = (event: string, data: unknown): IServerSentEvent => ({
    event,
    data: typeof data === 'string' ? data : JSON.stringify(data),
    lastEventId: '7'
  });

  it('reads the duel of a duel event, with missing fields filled', () => {
    const { ratings: _r, remaining: _m, ...partial } = duel();
    const read = duelOfEvent(message('duel', partial));
    expect(read?.id).toBe(1);
    expect(read?.ratings).toBeNull();
    expect(read?.remaining).toBeNull();
    expect(read?.question?.title).toBe('Sum a list');
  });

  it('ignores other events and data that is not a duel', () => {
    expect(duelOfEvent(message('achievement', duel()))).toBeNull();
    expect(duelOfEvent(message('duel', 'not json'))).toBeNull();
    expect(duelOfEvent(message('duel', [1, 2]))).toBeNull();
    expect(duelOfEvent(message('duel', { ...duel(), id: '1' }))).toBeNull();
    expect(duelOfEvent(message('duel', { ...duel(), challenger: 'ada' }))).toBeNull();
    expect(duelOfEvent(message('duel', { ...duel(), opponent: { nom: 'x' } }))).toBeNull();
  });

  it('tells listeners every change, and notices once per status', () => {
    const feed = new DuelFeed();
    const heard: string[] = [];
    const disconnect = feed.connect(d => heard.push(`${d.id}:${d.status}`));
    expect(feed.push(duel({ status: 'open', you: 'opponent' }))?.text).toMatch(/challenges you/);
    expect(feed.push(duel())?.text).toMatch(/^Duel started/);
    expect(feed.push(duel())).toBeNull(); // replayed after a reconnection
    disconnect();
    expect(feed.push(duel({ status: 'finished', result: 'opponent' }))?.level).toBe('warning');
    expect(heard).toEqual(['1:open', '1:active', '1:active']);
  });

  it('does not announce what a view loaded first, unless it knew the duel before', () => {
    const feed = new DuelFeed();
    feed.seen([duel({ id: 2, status: 'active' })]);
    expect(feed.push(duel({ id: 2, status: 'active' }))).toBeNull();
    // known as active; the view happened to load it finished before the push arrived
    feed.seen([duel({ id: 2, status: 'finished', result: 'challenger' })]);
    expect(feed.push(duel({ id: 2, status: 'finished', result: 'challenger' }))?.level).toBe(
      'success'
    );
  });
});

/** A stream that gives `pieces` one by one, then ends (or fails with `error`). */
function fakeStream(
  pieces: string[],
  error: Error | null = null
): ITextStream & { closed: boolean } {
  const queue = [...pieces];
  const stream = {
    closed: false,
    async read() {
      if (queue.length) {
        return queue.shift() as string;
      }
      if (error) {
        throw error;
      }
      return null;
    },
    close() {
      stream.closed = true;
    }
  };
  return stream;
}

describe('the push channel', () => {
  it('waits longer after each failure, and long after a refusal', () => {
    expect(reconnectDelay(0)).toBe(1000);
    expect(reconnectDelay(1)).toBe(1000);
    expect(reconnectDelay(2)).toBe(2000);
    expect(reconnectDelay(4)).toBe(10_000);
    expect(reconnectDelay(50)).toBe(30_000);
    expect(reconnectDelay(1, 403)).toBe(300_000);
    expect(reconnectDelay(1, 404)).toBe(300_000);
    expect(reconnectDelay(1, 502)).toBe(1000);
  });

  it('dispatches events, resumes with Last-Event-ID after an end or a failure', async () => {
    const asked: string[] = [];
    const waits: number[] = [];
    const events: string[] = [];
    const opens: boolean[] = [];
    const streams = [
      fakeStream(['id: 4\nevent: duel\ndata: {"a"', ':1}\n\n: keep-alive\n\n']),
      fakeStream(['id: 5\nevent: duel\ndata: {}\n\n'], new Error('network')),
      fakeStream(['event: duel\ndata: {}\n\n'])
    ];
    const failure = Object.assign(new Error('down'), { status: 502 });
    let calls = 0;
    let channel: EventChannel | null = null;
    channel = new EventChannel({
      openStream: async lastEventId => {
        asked.push(lastEventId);
        calls++;
        if (calls === 2) {
          throw failure;
        }
        const stream = streams.shift();
        if (!stream) {
          void channel?.stop();
          throw failure;
        }
        return stream;
      },
      onEvent: m => events.push(`${m.lastEventId}:${m.event}:${m.data}`),
      onOpen: again => opens.push(again),
      sleep: async ms => {
        waits.push(ms);
      }
    });
    channel.start();
    expect(channel.isRunning).toBe(true);
    // let the loop run until it stops itself
    for (let i = 0; i < 50 && channel.isRunning; i++) {
      await new Promise(resolve => setTimeout(resolve, 0));
    }
    await channel.stop();
    expect(events).toEqual(['4:duel:{"a":1}', '5:duel:{}', '5:duel:{}']);
    // first from now on, then from the last id seen, through a failure to open
    expect(asked).toEqual(['', '4', '4', '5', '5']);
    expect(opens).toEqual([false, true, true]);
    // the stream ended (1 s), failed to open (1 s), failed while reading (2 s)...
    expect(waits.slice(0, 4)).toEqual([1000, 1000, 2000, 1000]);
    expect(channel.lastEventId).toBe('5');
  });

  it('keeps going when a listener throws, and closes the stream on stop', async () => {
    let release: () => void = () => undefined;
    const blocked = new Promise<string | null>(resolve => {
      release = () => resolve(null);
    });
    const pieces = ['event: duel\ndata: 1\n\nevent: duel\ndata: 2\n\n'];
    const stream = {
      closed: false,
      read: async () => (pieces.length ? (pieces.shift() as string) : blocked),
      close() {
        stream.closed = true;
        release();
      }
    };
    const seen: string[] = [];
    const channel = new EventChannel({
      openStream: async () => stream,
      onEvent: m => {
        seen.push(m.data);
        throw new Error('a buggy listener');
      },
      sleep: async () => undefined
    });
    channel.start();
    for (let i = 0; i < 10 && seen.length < 2; i++) {
      await new Promise(resolve => setTimeout(resolve, 0));
    }
    await channel.stop();
    expect(seen).toEqual(['1', '2']);
    expect(stream.closed).toBe(true);
    expect(channel.isRunning).toBe(false);
  });
});

describe('fresh copies', () => {
  it('writes a copy once per occasion, starts before showing it, reopens it', async () => {
    const log: string[] = [];
    const copies = new FreshCopies(
      async id => {
        log.push(`write ${id}`);
        return { path: `copy-${id}-${log.length}.ipynb`, created: true };
      },
      async path => {
        log.push(`show ${path}`);
      }
    );
    await copies.open('review:9:2025-03-03', 9, async () => log.push('start'));
    await copies.open('review:9:2025-03-03', 9, async () => log.push('start again'));
    expect(copies.has('review:9:2025-03-03')).toBe(true);
    expect(log).toEqual(['write 9', 'start', 'show copy-9-1.ipynb', 'show copy-9-1.ipynb']);
  });

  it('shows the copy even when starting fails, then reports the failure', async () => {
    const shown: string[] = [];
    const copies = new FreshCopies(
      async () => ({ path: 'c.ipynb', created: true }),
      async path => {
        shown.push(path);
      }
    );
    await expect(
      copies.open('duel:3', 9, async () => {
        throw new Error('no card');
      })
    ).rejects.toThrow('no card');
    expect(shown).toEqual(['c.ipynb']);
  });

  it('remembers nothing when the copy could not be written', async () => {
    let fail = true;
    const copies = new FreshCopies(
      async () => {
        if (fail) {
          throw new Error('down');
        }
        return { path: 'c.ipynb', created: true };
      },
      async () => undefined
    );
    await expect(copies.open('duel:3', 9)).rejects.toThrow('down');
    expect(copies.has('duel:3')).toBe(false);
    fail = false;
    await copies.open('duel:3', 9);
    expect(copies.has('duel:3')).toBe(true);
  });
});

describe('duelProgressText', () => {
  const progress = {
    challenger: { submissions: 2, best_score: 1, max_score: 3 },
    opponent: { submissions: 0, best_score: null, max_score: null }
  };

  it('says how both players are doing, you first', () => {
    expect(duelProgressText(duel({ progress }))).toBe(
      'You: best 1 / 3 (2 submissions) · bob: nothing graded yet'
    );
    expect(duelProgressText(duel({ progress, you: 'opponent' }))).toBe(
      'You: nothing graded yet · Ada L.: best 1 / 3 (2 submissions)'
    );
  });

  it('leaves the bot out, and says nothing outside an active duel', () => {
    const one = { challenger: { submissions: 1, best_score: 3, max_score: 3 } };
    expect(duelProgressText(duel({ progress: one, bot: true, opponent: null }))).toBe(
      'You: best 3 / 3 (1 submission)'
    );
    expect(duelProgressText(duel({ progress, status: 'finished' }))).toBeNull();
    expect(duelProgressText(duel({ progress: null }))).toBeNull();
    expect(duelProgressText(duel({ progress, you: null }))).toBeNull();
  });
});
