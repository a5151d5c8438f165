import {
  IntegrityRecorder,
  integrityCourses,
  isAnswerCell,
  MAX_PASTE_CHARS,
  MAX_PASTES_LISTED,
  pasteSize,
  reportText,
  TimedQuestions
} from '../src/integrity';
import { ICourse } from '../src/types';

const S = 1000; // ms

function course(slug: string, integrity?: boolean): ICourse {
  return { id: 1, slug, title: slug, join: 'invite', enrolled: true, role: 'learner', integrity };
}

describe('which courses record integrity signals', () => {
  it('is what GET courses says, true only', () => {
    const on = integrityCourses([course('a', true), course('b', false), course('c')]);
    expect([...on]).toEqual(['a']);
  });
});

describe('pastes', () => {
  it('counts characters, not UTF-16 units', () => {
    expect(pasteSize('abc')).toBe(3);
    expect(pasteSize('😀x')).toBe(2);
    expect(pasteSize('')).toBe(0);
  });

  it('answer cells are nbgrader solution cells only', () => {
    expect(isAnswerCell({ nbgrader: { solution: true, grade_id: 'a' } })).toBe(true);
    expect(isAnswerCell({ nbgrader: { solution: false, grade: true } })).toBe(false);
    expect(isAnswerCell({ nbgrader: undefined })).toBe(false);
    expect(isAnswerCell(null)).toBe(false);
    expect(isAnswerCell({ nbgrader: { solution: 'true' } })).toBe(false);
  });

  it('records sizes only, within the grader’s bounds', () => {
    const r = new IntegrityRecorder(0, true);
    r.paste(12);
    r.paste(480);
    r.paste(-3); // cannot happen; never a negative size
    r.paste(MAX_PASTE_CHARS * 2);
    const s = r.signals(10 * S);
    expect(s.pastes).toEqual([12, 480, 0, MAX_PASTE_CHARS]);
    expect(s.paste_count).toBe(4);
    expect(s.paste_chars).toBe(12 + 480 + MAX_PASTE_CHARS);
    expect(JSON.stringify(s)).not.toMatch(/text/);
  });

  it('lists the first pastes and counts the rest', () => {
    const r = new IntegrityRecorder(0, true);
    for (let i = 0; i < MAX_PASTES_LISTED + 50; i++) {
      r.paste(2);
    }
    const s = r.signals(S);
    expect(s.pastes).toHaveLength(MAX_PASTES_LISTED);
    expect(s.paste_count).toBe(MAX_PASTES_LISTED + 50);
    expect(s.paste_chars).toBe(2 * (MAX_PASTES_LISTED + 50));
  });
});

describe('time spent', () => {
  it('counts from opening, and the time shown', () => {
    const r = new IntegrityRecorder(1000 * S, true);
    r.shown(false, 1060 * S); // 60 s shown, then another tab of JupyterLab
    r.shown(true, 1100 * S);
    const s = r.signals(1130 * S); // 30 s more
    expect(s.open_seconds).toBe(130);
    expect(s.visible_seconds).toBe(90);
  });

  it('opened hidden: shown time starts when it is shown', () => {
    const r = new IntegrityRecorder(0, false);
    r.shown(true, 5 * S);
    r.shown(true, 6 * S); // no change
    expect(r.signals(10 * S).visible_seconds).toBe(5);
  });

  it('never reports more time shown than open, nor negative times', () => {
    const r = new IntegrityRecorder(100 * S, true);
    const s = r.signals(50 * S); // the clock went back
    expect(s.open_seconds).toBe(0);
    expect(s.visible_seconds).toBe(0);
  });
});

describe('leaving the tab', () => {
  it('is not counted when the question is not timed', () => {
    const r = new IntegrityRecorder(0, true);
    r.away(true, 10 * S, null);
    r.away(false, 40 * S, null);
    const s = r.signals(60 * S);
    expect(s.away_count).toBe(0);
    expect(s.away_seconds).toBe(0);
    expect(s.timed).toBeNull();
  });

  it('is counted during a timed quiz, how often and how long', () => {
    const r = new IntegrityRecorder(0, true);
    r.away(true, 10 * S, 'quiz', 600 * S);
    r.away(true, 12 * S, 'quiz', 600 * S); // blur after visibilitychange: the same leave
    r.away(false, 40 * S, 'quiz', 600 * S);
    r.away(true, 100 * S, 'quiz', 600 * S);
    r.away(false, 105.5 * S, 'quiz', 600 * S);
    const s = r.signals(200 * S);
    expect(s.away_count).toBe(2);
    expect(s.away_seconds).toBe(35.5);
    expect(s.timed).toBe('quiz');
  });

  it('stops counting at the deadline, and counts an absence still going on', () => {
    const r = new IntegrityRecorder(0, true);
    r.away(true, 50 * S, 'duel', 80 * S);
    expect(r.signals(70 * S).away_seconds).toBe(20);
    r.away(false, 500 * S, null);
    expect(r.signals(600 * S).away_seconds).toBe(30);
  });

  it('reports a timed question even if the learner never left', () => {
    const r = new IntegrityRecorder(0, true);
    r.timed('duel');
    r.timed(null); // the duel ended: still a duel's question
    const s = r.signals(S);
    expect(s.timed).toBe('duel');
    expect(s.away_count).toBe(0);
  });
});

describe('timed questions', () => {
  it('are timed until their deadline, then not', () => {
    const timed = new TimedQuestions();
    timed.mark(7, 'quiz', 100 * S);
    expect(timed.timedAt('7', 50 * S)).toBe('quiz');
    expect(timed.until(7)).toBe(100 * S);
    expect(timed.timedAt(7, 100 * S)).toBeNull();
    expect(timed.timedAt(8, 50 * S)).toBeNull();
    timed.mark(8, 'duel', Number.POSITIVE_INFINITY);
    expect(timed.timedAt(8, 1e15)).toBe('duel');
    timed.clear(8);
    expect(timed.timedAt(8, 0)).toBeNull();
  });
});

describe('what the learner is shown of their own', () => {
  it('says what was recorded', () => {
    const text = reportText({
      pastes: [12, 480],
      paste_count: 2,
      paste_chars: 492,
      largest_paste: 480,
      away_count: 1,
      away_seconds: 20,
      timed: 'quiz',
      open_seconds: 1500,
      visible_seconds: 1200,
      recorded: null,
      self_reported: true
    });
    expect(text).toBe(
      '2 pastes (492 characters, the largest 480) · left the tab 1 time during the quiz (20 s) · 25 min from opening to submitting'
    );
    expect(reportText(null)).toBe('');
  });
});
