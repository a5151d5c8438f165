/**
 * Pure helpers: number and score formatting, a queued submission's place and wait,
 * question filters and grouping, leaderboard paging, error messages. No JupyterLab
 * import, so they are unit-tested.
 */
import { IModule, IQuestion } from './types';

/** A number without needless decimals: 1 -> "1", 1.5 -> "1.5", 1/3 -> "0.33". */
export function formatNumber(value: number | null | undefined): string {
  if (value === null || value === undefined || Number.isNaN(value)) {
    return '–';
  }
  if (Number.isInteger(value)) {
    return String(value);
  }
  // two decimals at most, trailing zeros dropped ("0.50" -> "0.5")
  return String(Number(value.toFixed(2)));
}

/** "<score> / <max>", e.g. "1 / 3". */
export function formatScore(
  score: number | null | undefined,
  max: number | null | undefined
): string {
  return `${formatNumber(score ?? 0)} / ${formatNumber(max ?? 0)}`;
}

/** A percentage for display, e.g. 33.3 -> "33%", 100 -> "100%"; clamped to 0..100. */
export function formatPercent(percent: number | null | undefined): string {
  return `${Math.round(clampPercent(percent))}%`;
}

export function clampPercent(percent: number | null | undefined): number {
  if (percent === null || percent === undefined || Number.isNaN(percent)) {
    return 0;
  }
  return Math.min(100, Math.max(0, percent));
}

const ORDINAL_SUFFIXES: Record<number, string> = { 1: 'st', 2: 'nd', 3: 'rd' };

/** 1 -> "1st", 2 -> "2nd", 3 -> "3rd", 11 -> "11th", 22 -> "22nd". */
export function ordinal(n: number): string {
  const lastTwo = n % 100;
  const suffix = lastTwo >= 11 && lastTwo <= 13 ? 'th' : (ORDINAL_SUFFIXES[n % 10] ?? 'th');
  return `${n}${suffix}`;
}

/**
 * An estimated wait, rounded up as a learner would say it: "a few seconds", "about
 * 15 s" (in steps of 5 s), "about 2 min", "about 2 h".
 */
export function formatWait(seconds: number): string {
  if (seconds < 5) {
    return 'a few seconds';
  }
  const rounded = Math.ceil(seconds / 5) * 5;
  if (rounded < 60) {
    return `about ${rounded} s`;
  }
  const minutes = Math.round(seconds / 60);
  if (minutes < 90) {
    return `about ${minutes} min`;
  }
  return `about ${Math.round(seconds / 3600)} h`;
}

/**
 * Where a queued submission stands: "3rd in line, about 15 s", "next in line", "about
 * 1 min"; '' when neither the place nor the wait is known.
 */
export function queueText(
  position: number | null | undefined,
  waitSeconds: number | null | undefined
): string {
  const parts: string[] = [];
  if (typeof position === 'number' && Number.isInteger(position) && position >= 1) {
    parts.push(position === 1 ? 'next in line' : `${ordinal(position)} in line`);
  }
  if (typeof waitSeconds === 'number' && Number.isFinite(waitSeconds) && waitSeconds >= 0) {
    parts.push(formatWait(waitSeconds));
  }
  return parts.join(', ');
}

/** The learner's best score on a question: "best 1 / 3" or "not attempted". */
export function bestScoreText(question: Pick<IQuestion, 'best_score' | 'points'>): string {
  if (question.best_score === null || question.best_score === undefined) {
    return 'not attempted';
  }
  return `best ${formatScore(question.best_score, question.points)}`;
}

/** "1 point" / "3 points". */
export function pointsText(points: number): string {
  return `${formatNumber(points)} ${points === 1 ? 'point' : 'points'}`;
}

/** The question filters of the Questions tab; an empty string means "All". */
export interface IFilterState {
  /** a module's slug */
  module: string;
  category: string;
  difficulty: string;
  tag: string;
  /** a question type: notebook, choice, fill_in, flashcard */
  type: string;
  search: string;
}

export const NO_FILTERS: IFilterState = {
  module: '',
  category: '',
  difficulty: '',
  tag: '',
  type: '',
  search: ''
};

/** The text the search looks in: title, description, category and tags, lower case. */
export function searchText(
  q: Pick<IQuestion, 'title' | 'description' | 'category' | 'tags'>
): string {
  return [q.title, q.description ?? '', q.category ?? '', ...(q.tags || [])]
    .join('\n')
    .toLowerCase();
}

/**
 * The questions matching every filter; the search matches every word (any case) in
 * the title, the description, the category or the tags, as the grader's `?q=` does.
 */
export function filterQuestions(questions: IQuestion[], filters: IFilterState): IQuestion[] {
  const words = filters.search.toLowerCase().split(/\s+/).filter(w => w.length > 0);
  return questions.filter(q => {
    if (filters.module && q.module_slug !== filters.module) {
      return false;
    }
    if (filters.category && q.category !== filters.category) {
      return false;
    }
    if (filters.difficulty && q.difficulty !== filters.difficulty) {
      return false;
    }
    if (filters.tag && !(q.tags || []).includes(filters.tag)) {
      return false;
    }
    if (filters.type && (q.type ?? 'notebook') !== filters.type) {
      return false;
    }
    const text = searchText(q);
    return words.every(w => text.includes(w));
  });
}

/** The chips under a question: its category, then its tags without the category's
 * repeat (a tag "functions" in category "functions" says nothing new). */
export function questionChips(
  q: Pick<IQuestion, 'category' | 'tags'>
): { kind: 'category' | 'tag'; text: string }[] {
  const category = q.category?.trim() || null;
  const seen = new Set(category ? [category.toLowerCase()] : []);
  const chips: { kind: 'category' | 'tag'; text: string }[] = category
    ? [{ kind: 'category', text: category }]
    : [];
  for (const tag of q.tags || []) {
    const key = tag.trim().toLowerCase();
    if (key && !seen.has(key)) {
      seen.add(key);
      chips.push({ kind: 'tag', text: tag });
    }
  }
  return chips;
}

/**
 * The description as a one-line teaser under the title: without a leading repeat of the
 * title (the first markdown cell often starts with it as a heading); '' for none.
 */
export function descriptionSnippet(q: Pick<IQuestion, 'title' | 'description'>): string {
  const text = (q.description ?? '').replace(/\s+/g, ' ').trim();
  const title = q.title.trim();
  if (title && text.toLowerCase().startsWith(title.toLowerCase())) {
    return text.slice(title.length).replace(/^[\s:.\-–—]+/, '');
  }
  return text;
}

/** A test's name for people: its title, else its id. */
export function testTitle(test: { name: string; title?: string | null }): string {
  return test.title?.trim() || test.name;
}

export interface IModuleSection {
  module: IModule;
  questions: IQuestion[];
}

/**
 * Questions grouped under their modules, in the modules' order; modules left without a
 * question (after filtering) are left out. Questions of a module missing from `modules`
 * get a section of their own at the end, titled by the module's slug.
 */
export function groupByModule(modules: IModule[], questions: IQuestion[]): IModuleSection[] {
  const sections = new Map<string, IModuleSection>();
  for (const module of modules) {
    sections.set(String(module.id), { module, questions: [] });
  }
  for (const q of questions) {
    const key = String(q.module);
    let section = sections.get(key);
    if (!section) {
      section = {
        module: { id: q.module, slug: q.module_slug, title: q.module_slug },
        questions: []
      };
      sections.set(key, section);
    }
    section.questions.push(q);
  }
  return [...sections.values()].filter(s => s.questions.length > 0);
}

export const PAGE_SIZE = 20;

export interface IPage {
  offset: number;
  limit: number;
}

/** The request for page `page` (0-based). */
export function pageRequest(page: number, pageSize: number = PAGE_SIZE): IPage {
  return { offset: Math.max(0, page) * pageSize, limit: pageSize };
}

export interface IPageInfo {
  hasPrevious: boolean;
  hasNext: boolean;
  /** e.g. "21–40 of 45", or "no entries" */
  label: string;
}

/** What the pager shows for a page of `count` entries starting at `offset` of `total`. */
export function pageInfo(offset: number, count: number, total: number): IPageInfo {
  if (total <= 0 || count <= 0) {
    return { hasPrevious: offset > 0, hasNext: false, label: 'no entries' };
  }
  const last = offset + count;
  return {
    hasPrevious: offset > 0,
    hasNext: last < total,
    label: `${offset + 1}–${last} of ${total}`
  };
}

/**
 * The message to show for a failed API call: the server's own `message` when the body
 * is the API's JSON error, else a plain sentence naming the status (never the body of
 * an HTML error page or a traceback).
 */
export function errorMessage(status: number, body: string): string {
  try {
    const data = JSON.parse(body);
    if (data && typeof data.message === 'string' && data.message.trim()) {
      return data.message;
    }
  } catch {
    // not JSON: a proxy's or the server's error page
  }
  switch (status) {
    case 0:
      return 'The Jupyter server cannot be reached.';
    case 403:
      return 'You are not allowed to do this; try reloading the page.';
    case 404:
      return 'Not found.';
    case 502:
    case 503:
      return 'The grading service is not available; try again in a minute.';
    case 504:
      return 'The grading service did not answer in time; try again.';
    default:
      return `The server answered with an error (status ${status}).`;
  }
}

/** The language of a question for a chip ("R", "JavaScript", "C"); null for Python, the
 * language of every question that does not say (no chip). */
export function languageText(language: string | null | undefined): string | null {
  switch (language) {
    case 'r':
      return 'R';
    case 'javascript':
      return 'JavaScript';
    case 'c':
      return 'C';
    case 'python':
    case '':
    case null:
    case undefined:
      return null;
    default:
      return language;
  }
}

/** The type of a question for a chip: "multiple choice", "fill in", "flashcard", "notebook". */
export function typeText(type: string | null | undefined): string {
  switch (type) {
    case 'choice':
      return 'multiple choice';
    case 'fill_in':
      return 'fill in';
    case 'flashcard':
      return 'flashcard';
    default:
      return 'notebook';
  }
}
