import {
  celebrationOf,
  celebrationsOn,
  hintCostText,
  percentileText,
  topText
} from '../src/awards';
import {
  descriptionSnippet,
  filterQuestions,
  NO_FILTERS,
  questionChips,
  searchText,
  testTitle
} from '../src/format';
import {
  homeShownKey,
  moduleSummaries,
  nextQuestion,
  shouldOpenHome,
  streakText
} from '../src/home';
import { Poller } from '../src/poller';
import {
  agoText,
  avatarProblem,
  entryName,
  profileChanges,
  profileForm,
  suggestedTimezone
} from '../src/profile';
import { IModule, IProfile, IQuestion } from '../src/types';

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

const MODULES: IModule[] = [
  { id: 1, slug: 'basics', title: 'Basics', description: 'Variables' },
  { id: 2, slug: 'loops', title: 'Loops', description: 'for and while' }
];

describe('search over title, description, category and tags', () => {
  const questions = [
    question(1, { title: 'Factorial', description: 'Compute n! with recursion.' }),
    question(2, { title: 'Clock', category: 'time', tags: ['modulo'] }),
    question(3, { title: 'Sum', description: null, category: null })
  ];
  const ids = (qs: IQuestion[]) => qs.map(q => q.id);

  it('finds a word of the description ("recursion")', () => {
    expect(ids(filterQuestions(questions, { ...NO_FILTERS, search: 'recursion' }))).toEqual([1]);
  });

  it('finds the category and a tag, every word having to match', () => {
    expect(ids(filterQuestions(questions, { ...NO_FILTERS, search: 'TIME' }))).toEqual([2]);
    expect(ids(filterQuestions(questions, { ...NO_FILTERS, search: 'clock modulo' }))).toEqual([2]);
    expect(ids(filterQuestions(questions, { ...NO_FILTERS, search: 'clock loops' }))).toEqual([]);
  });

  it('copes with questions without description or category', () => {
    expect(searchText(questions[2])).toBe('sum\n\n');
  });
});

describe('chips and test names', () => {
  it('drops a tag equal to the category, and repeated tags', () => {
    expect(
      questionChips({ category: 'Functions', tags: ['functions', 'recursion', 'Recursion'] })
    ).toEqual([
      { kind: 'category', text: 'Functions' },
      { kind: 'tag', text: 'recursion' }
    ]);
    expect(questionChips({ category: null, tags: ['a'] })).toEqual([{ kind: 'tag', text: 'a' }]);
  });

  it('names a test by its title, else its id', () => {
    expect(testTitle({ name: 'test-clock-hours', title: 'hours wrap after a day' })).toBe(
      'hours wrap after a day'
    );
    expect(testTitle({ name: 'test-clock-hours', title: null })).toBe('test-clock-hours');
    expect(testTitle({ name: 'test-clock-hours', title: '  ' })).toBe('test-clock-hours');
  });
});

describe('the course page', () => {
  it('suggests the first unsolved released question, in module order', () => {
    const qs = [
      question(5, { module: 2, module_slug: 'loops' }),
      question(1, { solved: true }),
      question(2, { status: 'draft' }),
      question(3)
    ];
    expect(nextQuestion(MODULES, qs)?.id).toBe(3);
    expect(nextQuestion(MODULES, [question(1, { solved: true })])).toBeNull();
  });

  it('joins modules with their progress, counting questions when there is none', () => {
    const summaries = moduleSummaries(
      MODULES,
      [
        {
          module: 2,
          module_slug: 'loops',
          title: 'Loops',
          score: 3,
          max_score: 6,
          solved: 1,
          total: 2,
          percent: 50
        }
      ],
      [question(1, { solved: true }), question(3)]
    );
    expect(summaries.map(s => [s.module.slug, s.solved, s.total, s.percent])).toEqual([
      ['basics', 1, 2, 50],
      ['loops', 1, 2, 50]
    ]);
  });

  it('opens by itself once per course, never without storage', () => {
    const store = new Map<string, string>();
    const storage = { getItem: (k: string) => store.get(k) ?? null };
    expect(shouldOpenHome(storage, 'python')).toBe(true);
    store.set(homeShownKey('python'), '1');
    expect(shouldOpenHome(storage, 'python')).toBe(false);
    expect(shouldOpenHome(storage, 'other')).toBe(true);
    expect(shouldOpenHome(null, 'python')).toBe(false);
    const broken = {
      getItem: () => {
        throw new Error('denied');
      }
    };
    expect(shouldOpenHome(broken, 'python')).toBe(false);
  });

  it('says the streak', () => {
    expect(streakText(3)).toBe('3-day streak');
    expect(streakText(0)).toBe('');
    expect(streakText(null)).toBe('');
  });
});

describe('celebrations', () => {
  const badge = { key: 'first', title: 'First solve', description: 'd', icon: '🎉' };

  it('celebrates XP and achievements, with the streak', () => {
    expect(celebrationOf({ xp: 20, streak: 3, achievements: [badge] }, {})).toEqual({
      xp: '+20 XP',
      streak: '3-day streak',
      achievements: [badge]
    });
    expect(celebrationOf({ xp: 0, streak: 1, achievements: [badge] }, undefined)?.xp).toBe('');
  });

  it('stays quiet without awards, without XP or achievement, or when turned off', () => {
    expect(celebrationOf(null, {})).toBeNull();
    expect(celebrationOf({ xp: 0, streak: 2, achievements: [] }, {})).toBeNull();
    expect(celebrationOf({ xp: 20, streak: 1, achievements: [] }, { celebrations: false })).toBe(
      null
    );
    expect(celebrationsOn({ celebrations: true })).toBe(true);
    expect(celebrationsOn(null)).toBe(true);
  });

  it('says ranks, percentiles and what hints cost', () => {
    expect(topText(5)).toBe('top 5%');
    expect(topText(null)).toBe('');
    expect(percentileText(82.6)).toBe('top 83%');
    expect(percentileText(0.4)).toBe('top 0.4%');
    expect(percentileText(100)).toBe('top 100%');
    expect(percentileText(null)).toBe('');
    expect(hintCostText(0.25)).toBe('Each hint you reveal lowers the XP of a later solve by 25%.');
    expect(hintCostText(0)).toBe('Hints are free for this question.');
  });
});

describe('profile', () => {
  it('accepts PNG, JPEG and WebP up to 2 MiB only', () => {
    expect(avatarProblem({ type: 'image/png', size: 1000 })).toBeNull();
    expect(avatarProblem({ type: 'image/webp', size: 2 * 1024 * 1024 })).toBeNull();
    expect(avatarProblem({ type: 'image/svg+xml', size: 10 })).toMatch(/PNG, JPEG or WebP/);
    expect(avatarProblem({ type: 'image/jpeg', size: 2 * 1024 * 1024 + 1 })).toMatch(/2 MiB/);
  });

  it("suggests the browser's time zone only over the default", () => {
    expect(suggestedTimezone('UTC', 'Europe/Paris')).toBe('Europe/Paris');
    expect(suggestedTimezone(null, 'Europe/Paris')).toBe('Europe/Paris');
    expect(suggestedTimezone('Asia/Tokyo', 'Europe/Paris')).toBeNull();
    expect(suggestedTimezone('UTC', 'UTC')).toBeNull();
    expect(suggestedTimezone('UTC', null)).toBeNull();
  });

  it('sends only what changed', () => {
    const p: IProfile = {
      name: 'ada',
      display_name: 'Ada',
      bio: '',
      links: { github: 'ada' },
      score: 0,
      solved: 0,
      attempted: 0,
      submissions: 0,
      rank: null,
      private: { email: null, timezone: 'UTC', anonymous: false, settings: {} }
    };
    const before = profileForm(p);
    expect(before.celebrations).toBe(true);
    expect(profileChanges(before, before)).toEqual({});
    expect(
      profileChanges(before, {
        ...before,
        display_name: ' Ada L. ',
        website: 'https://ada.example',
        anonymous: true,
        celebrations: false,
        timezone: 'Europe/London'
      })
    ).toEqual({
      display_name: 'Ada L.',
      links: { github: 'ada', linkedin: null, website: 'https://ada.example' },
      anonymous: true,
      settings: { celebrations: false },
      timezone: 'Europe/London'
    });
  });

  it('names leaderboard entries, anonymous ones too', () => {
    const entry = { rank: 1, score: 1, solved: 1 };
    expect(entryName({ ...entry, user: 'ada', display_name: 'Ada' })).toBe('Ada');
    expect(entryName({ ...entry, user: 'ada' })).toBe('ada');
    expect(entryName({ ...entry, user: null, display_name: 'anonymous learner' })).toBe(
      'anonymous learner'
    );
    expect(entryName({ ...entry, user: null })).toBe('anonymous learner');
  });

  it('says when, in words', () => {
    const now = Date.parse('2025-01-02T12:00:00Z');
    expect(agoText('2025-01-02T11:59:50Z', now)).toBe('just now');
    expect(agoText('2025-01-02T11:57:00Z', now)).toBe('3 min ago');
    expect(agoText('2025-01-02T09:00:00Z', now)).toBe('3 h ago');
    expect(agoText('2025-01-01T12:00:00Z', now)).toBe('yesterday');
    expect(agoText(null, now)).toBe('');
  });
});

describe('the live refresh', () => {
  function setup(active: { value: boolean }) {
    let now = 0;
    let tick: (() => void) | null = null;
    const ticks: number[] = [];
    const poller = new Poller({
      intervalMs: 1000,
      isActive: () => active.value,
      onTick: () => ticks.push(now),
      now: () => now,
      setInterval: fn => {
        tick = fn;
        return 1;
      },
      clearInterval: () => {
        tick = null;
      }
    });
    return {
      poller,
      ticks,
      advance: (ms: number) => {
        now += ms;
        tick?.();
      },
      running: () => tick !== null
    };
  }

  it('refreshes on every interval while active, never while hidden', () => {
    const active = { value: true };
    const t = setup(active);
    t.poller.start();
    t.advance(1000);
    active.value = false;
    t.advance(1000);
    t.advance(1000);
    expect(t.ticks).toEqual([1000]);
    t.poller.stop();
    expect(t.running()).toBe(false);
  });

  it('refreshes at once when shown again after an interval, not sooner', () => {
    const active = { value: false };
    const t = setup(active);
    t.poller.start();
    t.advance(500);
    active.value = true;
    t.poller.wake();
    expect(t.ticks).toEqual([]);
    active.value = false;
    t.advance(1000);
    active.value = true;
    t.poller.wake();
    expect(t.ticks).toEqual([1500]);
  });

  it('waits after a refresh made by a graded submission', () => {
    const active = { value: true };
    const t = setup(active);
    t.advance(900);
    t.poller.refreshed();
    active.value = true;
    t.poller.wake();
    expect(t.ticks).toEqual([]);
  });
});

describe('description snippets', () => {
  it('drops a leading repeat of the title', () => {
    expect(
      descriptionSnippet({ title: 'Tower of Hanoi', description: 'Tower of Hanoi  Three pegs.' })
    ).toBe('Three pegs.');
    expect(descriptionSnippet({ title: 'Sum', description: 'Add the numbers.' })).toBe(
      'Add the numbers.'
    );
    expect(descriptionSnippet({ title: 'Sum', description: null })).toBe('');
  });
});
