import {
  buildMetadata,
  createBody,
  formProblems,
  IAuthoringForm,
  mayHaveSubmissions,
  notASource,
  parseTags,
  readAuthoring,
  regradeFinished,
  regradePercent,
  regradeText,
  releaseTime,
  savedQuestionId,
  slugify,
  statusText,
  updateBody,
  validationLines,
  withQuestionId
} from '../src/authoring';
import { IModule } from '../src/types';

const UTC = { locale: 'en-GB', timeZone: 'UTC' };

const modules: IModule[] = [
  { id: 11, slug: 'basics', title: 'Basics' },
  { id: 12, slug: 'loops', title: 'Loops' }
];

const form: IAuthoringForm = {
  title: ' Two sums ',
  module: 'basics',
  slug: 'two-sums',
  category: 'functions',
  difficulty: 'easy',
  tags: 'lists, sums,, lists '
};

describe('the notebook’s metadata', () => {
  it('reads the fields, defaulting slug and title to the file name', () => {
    expect(readAuthoring(undefined, 'drafts/Two Sums (v2).ipynb')).toEqual({
      title: 'Two Sums (v2)',
      module: '',
      slug: 'two-sums-v2',
      category: '',
      difficulty: '',
      tags: ''
    });
    expect(
      readAuthoring(
        { title: 'Squares', module: 'loops', slug: 'sq', tags: ['a', 3, 'b'], id: 4 },
        'x.ipynb'
      )
    ).toEqual({
      title: 'Squares',
      module: 'loops',
      slug: 'sq',
      category: '',
      difficulty: '',
      tags: 'a, b'
    });
  });

  it('makes slugs the grader accepts', () => {
    expect(slugify('Café au lait.ipynb')).toBe('cafe-au-lait');
    expect(slugify('--Hello, World!--')).toBe('hello-world');
    expect(slugify('snake_case_name')).toBe('snake_case_name');
  });

  it('parses tags once each', () => {
    expect(parseTags('lists, sums,, lists ')).toEqual(['lists', 'sums']);
    expect(parseTags('')).toEqual([]);
  });

  it('builds metadata.coursehub, keeping the saved id and other keys', () => {
    const previous = { id: 7, question_id: 3, extra: true, category: 'old' };
    expect(buildMetadata({ ...form, category: '', difficulty: '' }, previous)).toEqual({
      id: 7,
      extra: true,
      title: 'Two sums',
      module: 'basics',
      slug: 'two-sums',
      tags: ['lists', 'sums']
    });
    // never a learner's question_id: a source notebook gets no Submit button
    expect(buildMetadata(form, previous)).not.toHaveProperty('question_id');
    expect(buildMetadata(form, undefined)).toMatchObject({
      category: 'functions',
      difficulty: 'easy'
    });
  });

  it('never takes a learner’s copy or a preview for the source', () => {
    // both carry the source's id (the student version keeps the notebook's metadata)
    expect(notASource({ id: 7, question_id: 7 })).toMatch(/^This is a copy of question 7 /);
    expect(notASource({ preview: 7 })).toMatch(/^This is a preview of question 7,/);
    expect(notASource({ id: 7, title: 'Squares' })).toBeNull();
    expect(notASource(undefined)).toBeNull();
  });

  it('records the id of the first save', () => {
    const meta = withQuestionId(buildMetadata(form, {}), 42);
    expect(savedQuestionId(meta)).toBe(42);
    expect(savedQuestionId({})).toBeNull();
    expect(savedQuestionId({ id: '' })).toBeNull();
    expect(savedQuestionId(null)).toBeNull();
  });
});

describe('requests', () => {
  it('names what is wrong before sending', () => {
    expect(formProblems(form, modules)).toEqual([]);
    expect(
      formProblems({ ...form, title: ' ', module: '', slug: 'Bad Slug', difficulty: 'x' }, modules)
    ).toEqual([
      'A title is required.',
      'Choose the module the question belongs to.',
      "The slug must be lower-case letters, digits, '-' and '_', starting with a letter or digit.",
      'Difficulty must be one of easy, medium, hard.'
    ]);
    expect(formProblems({ ...form, module: 'gone' }, modules)).toEqual([
      'The course has no module "gone".'
    ]);
  });

  it('saves a new question as a draft of the course', () => {
    const notebook = { cells: [] };
    expect(createBody(form, 'python', modules[0], notebook)).toEqual({
      course: 'python',
      module: 11,
      slug: 'two-sums',
      title: 'Two sums',
      category: 'functions',
      difficulty: 'easy',
      tags: ['lists', 'sums'],
      notebook,
      release: null
    });
  });

  it('saves a new version without touching its release', () => {
    const body = updateBody(form, { cells: [] }, true);
    expect(body).toMatchObject({ title: 'Two sums', regrade: true });
    expect(body).not.toHaveProperty('release');
    expect(body).not.toHaveProperty('slug');
  });

  it('asks about regrading only when learners may have answered', () => {
    expect(mayHaveSubmissions({ status: 'released' })).toBe(true);
    expect(mayHaveSubmissions({ status: 'draft' })).toBe(false);
    expect(mayHaveSubmissions({ status: 'scheduled' })).toBe(false);
    expect(mayHaveSubmissions(null)).toBe(true);
  });

  it('turns a local release time into the ISO time the grader takes', () => {
    const iso = releaseTime('2025-03-03T14:00');
    expect(iso).toBe(new Date(2025, 2, 3, 14, 0).toISOString());
    expect(releaseTime('')).toBeNull();
    expect(releaseTime('tomorrow')).toBeNull();
  });
});

describe('answers', () => {
  it('says a question’s state', () => {
    expect(statusText({ status: 'draft', released: null })).toBe('draft (learners do not see it)');
    expect(statusText({ status: 'scheduled', released: '2025-03-10T08:00:00Z' }, UTC)).toBe(
      'scheduled for 10 Mar 2025, 08:00'
    );
    expect(statusText({ status: 'released', released: '2025-03-01T09:00:00Z' }, UTC)).toBe(
      'released 1 Mar 2025, 09:00'
    );
  });

  it('shows the validation’s scores', () => {
    expect(
      validationLines({
        ok: true,
        problems: [],
        reference: { score: 3, max_score: 3 },
        stub: { score: 0, max_score: 3 }
      })
    ).toEqual(['Reference solution: 3 / 3', 'Student version: 0 / 3']);
    const failed = { ok: false, problems: ['no test cell'], reference: null, stub: null };
    expect(validationLines(failed)).toEqual([]);
  });

  it('follows a regrade until nothing waits or runs', () => {
    const running = { queued: 3, running: 1, graded: 5, error: 1, total: 10 };
    expect(regradeText(running)).toBe('6 of 10 regraded, 3 waiting, 1 running, 1 failed');
    expect(regradePercent(running)).toBe(60);
    expect(regradeFinished(running)).toBe(false);
    const done = { queued: 0, running: 0, graded: 10, error: 0, total: 10 };
    expect(regradeText(done)).toBe('10 of 10 regraded');
    expect(regradeFinished(done)).toBe(true);
    expect(regradePercent({ queued: 0, running: 0, graded: 0, error: 0, total: 0 })).toBe(100);
  });
});
