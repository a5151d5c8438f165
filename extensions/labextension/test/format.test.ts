import {
  bestScoreText,
  errorMessage,
  filterQuestions,
  formatNumber,
  formatPercent,
  formatScore,
  formatWait,
  groupByModule,
  NO_FILTERS,
  ordinal,
  pageInfo,
  pageRequest,
  pointsText,
  queueText
} from '../src/format';
import { IModule, IQuestion } from '../src/types';

function question(id: number, fields: Partial<IQuestion> = {}): IQuestion {
  return {
    id,
    slug: `q${id}`,
    title: `Question ${id}`,
    module: 1,
    module_slug: 'basics',
    category: 'functions',
    difficulty: 'easy',
    tags: [],
    points: 3,
    best_score: null,
    solved: false,
    ...fields
  };
}

const modules: IModule[] = [
  { id: 1, slug: 'basics', title: 'Basics' },
  { id: 2, slug: 'loops', title: 'Loops' },
  { id: 3, slug: 'empty', title: 'Empty' }
];

describe('scores', () => {
  it('formats numbers without needless decimals', () => {
    expect(formatNumber(1)).toBe('1');
    expect(formatNumber(3.0)).toBe('3');
    expect(formatNumber(1.5)).toBe('1.5');
    expect(formatNumber(1 / 3)).toBe('0.33');
    expect(formatNumber(2.499999999)).toBe('2.5');
    expect(formatNumber(null)).toBe('–');
  });

  it('formats a score as "score / max"', () => {
    expect(formatScore(1, 3)).toBe('1 / 3');
    expect(formatScore(3.0, 3.0)).toBe('3 / 3');
    expect(formatScore(null, 3)).toBe('0 / 3');
  });

  it('shows the best score or that the question was never tried', () => {
    expect(bestScoreText({ best_score: null, points: 3 })).toBe('not attempted');
    expect(bestScoreText({ best_score: 0, points: 3 })).toBe('best 0 / 3');
    expect(bestScoreText({ best_score: 1, points: 3 })).toBe('best 1 / 3');
  });

  it('formats percentages and points', () => {
    expect(formatPercent(33.3)).toBe('33%');
    expect(formatPercent(100)).toBe('100%');
    expect(formatPercent(150)).toBe('100%');
    expect(formatPercent(null)).toBe('0%');
    expect(pointsText(1)).toBe('1 point');
    expect(pointsText(3)).toBe('3 points');
  });
});

describe('queue', () => {
  it('says places in line as ordinals', () => {
    const places = [1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 101, 111, 112];
    expect(places.map(ordinal).join(' ')).toBe(
      '1st 2nd 3rd 4th 11th 12th 13th 21st 22nd 23rd 101st 111th 112th'
    );
  });

  it('rounds a wait up, in steps a learner would use', () => {
    expect(formatWait(0)).toBe('a few seconds');
    expect(formatWait(4.9)).toBe('a few seconds');
    expect(formatWait(5)).toBe('about 5 s');
    expect(formatWait(12.5)).toBe('about 15 s');
    expect(formatWait(55.1)).toBe('about 1 min');
    expect(formatWait(90)).toBe('about 2 min');
    expect(formatWait(45 * 60)).toBe('about 45 min');
    expect(formatWait(3 * 3600)).toBe('about 3 h');
  });

  it('tells a queued submission its place and wait, whichever is known', () => {
    expect(queueText(3, 12.5)).toBe('3rd in line, about 15 s');
    expect(queueText(1, 2)).toBe('next in line, a few seconds');
    expect(queueText(2, null)).toBe('2nd in line');
    expect(queueText(null, 70)).toBe('about 1 min');
    expect(queueText(null, null)).toBe('');
    expect(queueText(undefined, undefined)).toBe('');
    expect(queueText(0, -1)).toBe('');
  });
});

describe('question filters', () => {
  const questions = [
    question(1, { title: 'Add two numbers', tags: ['arithmetic'] }),
    question(2, { title: 'FizzBuzz', module: 2, module_slug: 'loops', difficulty: 'medium' }),
    question(3, {
      title: 'Sum of a list',
      module: 2,
      module_slug: 'loops',
      category: 'lists',
      tags: ['arithmetic', 'lists']
    })
  ];
  const ids = (qs: IQuestion[]) => qs.map(q => q.id);

  it('keeps everything without filters', () => {
    expect(ids(filterQuestions(questions, NO_FILTERS))).toEqual([1, 2, 3]);
  });

  it('filters by module slug, category, difficulty and tag, all at once', () => {
    expect(ids(filterQuestions(questions, { ...NO_FILTERS, module: 'loops' }))).toEqual([2, 3]);
    expect(ids(filterQuestions(questions, { ...NO_FILTERS, category: 'lists' }))).toEqual([3]);
    expect(ids(filterQuestions(questions, { ...NO_FILTERS, difficulty: 'medium' }))).toEqual([2]);
    expect(ids(filterQuestions(questions, { ...NO_FILTERS, tag: 'arithmetic' }))).toEqual([1, 3]);
    expect(
      ids(filterQuestions(questions, { ...NO_FILTERS, tag: 'arithmetic', module: 'basics' }))
    ).toEqual([1]);
  });

  it('filters by question type, a question without one being a notebook', () => {
    const typed = [...questions, question(4, { title: 'Which is mutable?', type: 'choice' })];
    expect(ids(filterQuestions(typed, { ...NO_FILTERS, type: 'choice' }))).toEqual([4]);
    expect(ids(filterQuestions(typed, { ...NO_FILTERS, type: 'notebook' }))).toEqual([1, 2, 3]);
  });

  it('searches the title by words, in any case and order', () => {
    expect(ids(filterQuestions(questions, { ...NO_FILTERS, search: 'fizz' }))).toEqual([2]);
    expect(ids(filterQuestions(questions, { ...NO_FILTERS, search: 'LIST sum' }))).toEqual([3]);
    expect(ids(filterQuestions(questions, { ...NO_FILTERS, search: '  ' }))).toEqual([1, 2, 3]);
    expect(ids(filterQuestions(questions, { ...NO_FILTERS, search: 'nothing' }))).toEqual([]);
  });

  it('groups questions under their modules, in module order, leaving out empty ones', () => {
    const sections = groupByModule(modules, questions);
    expect(sections.map(s => s.module.title)).toEqual(['Basics', 'Loops']);
    expect(sections[1].questions.map(q => q.id)).toEqual([2, 3]);
  });

  it('gives questions of an unknown module a section titled by its slug', () => {
    const sections = groupByModule(modules, [question(9, { module: 42, module_slug: 'extra' })]);
    expect(sections.map(s => s.module.title)).toEqual(['extra']);
  });
});

describe('leaderboard paging', () => {
  it('asks for pages of 20', () => {
    expect(pageRequest(0)).toEqual({ offset: 0, limit: 20 });
    expect(pageRequest(2)).toEqual({ offset: 40, limit: 20 });
    expect(pageRequest(-1)).toEqual({ offset: 0, limit: 20 });
  });

  it('enables Previous and Next only where there is a page', () => {
    expect(pageInfo(0, 20, 45)).toEqual({ hasPrevious: false, hasNext: true, label: '1–20 of 45' });
    expect(pageInfo(20, 20, 45)).toEqual({ hasPrevious: true, hasNext: true, label: '21–40 of 45' });
    expect(pageInfo(40, 5, 45)).toEqual({ hasPrevious: true, hasNext: false, label: '41–45 of 45' });
    expect(pageInfo(0, 3, 3)).toEqual({ hasPrevious: false, hasNext: false, label: '1–3 of 3' });
    expect(pageInfo(0, 0, 0)).toEqual({ hasPrevious: false, hasNext: false, label: 'no entries' });
  });
});

describe('error messages', () => {
  it("shows the API's own message", () => {
    expect(errorMessage(404, '{"status": 404, "message": "No question 7."}')).toBe(
      'No question 7.'
    );
  });

  it('never shows an HTML page or a traceback', () => {
    const page = '<html><body>Traceback (most recent call last): ...</body></html>';
    expect(errorMessage(502, page)).toBe(
      'The grading service is not available; try again in a minute.'
    );
    expect(errorMessage(500, page)).toBe('The server answered with an error (status 500).');
    expect(errorMessage(500, '{"status": 500}')).toBe(
      'The server answered with an error (status 500).'
    );
    expect(errorMessage(0, '')).toBe('The Jupyter server cannot be reached.');
  });
});
