/**
 * Pure helpers for an instructor's authoring in JupyterLab: the question's fields kept
 * in the notebook's `metadata.coursehub`, the bodies sent to the grader, and what its
 * answers (validation, release, regrading) say. No JupyterLab import, so they are
 * unit-tested.
 *
 * `metadata.coursehub` of a source notebook holds title, module, slug, category,
 * difficulty and tags (what `course_content/` notebooks hold too) and, once saved, the
 * question's `id`. It never holds `question_id`: that marks a learner's copy of a
 * question (and gives it a Submit button), which a source notebook is not.
 */
import { formatDateTime, IDateFormat, parseTime } from './rules';
import { formatScore } from './format';
import { IModule, IQuestion, IRegradeProgress, IValidation } from './types';

export const DIFFICULTIES = ['easy', 'medium', 'hard'] as const;

/** The grader's slug rule (grader/handlers/validation.py). */
export const SLUG_PATTERN = /^[a-z0-9][a-z0-9_-]{0,99}$/;

/** The authoring form, as typed: tags as one comma-separated string. */
export interface IAuthoringForm {
  title: string;
  /** the module's slug */
  module: string;
  slug: string;
  category: string;
  difficulty: string;
  tags: string;
}

/** What is stored in `metadata.coursehub`. */
export interface IAuthoringMetadata {
  title: string;
  module: string;
  slug: string;
  category?: string;
  difficulty?: string;
  tags: string[];
  /** the question's id, once saved */
  id?: number | string;
  [key: string]: unknown;
}

/** A file name made a slug: "Two Sums (v2).ipynb" -> "two-sums-v2". */
export function slugify(text: string): string {
  return text
    .replace(/\.ipynb$/i, '')
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/^[-_]+|-+$/g, '')
    .slice(0, 100);
}

/** `metadata.coursehub` as an object (anything else, e.g. missing, as `{}`). */
function metadataObject(raw: unknown): Record<string, unknown> {
  return raw && typeof raw === 'object' ? (raw as Record<string, unknown>) : {};
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/**
 * The form for a notebook from its `metadata.coursehub` (anything: it may be missing
 * or hand-edited); fields it lacks come from the file name (slug, title).
 */
export function readAuthoring(raw: unknown, path: string): IAuthoringForm {
  const meta = metadataObject(raw);
  const name = path.split('/').pop() ?? '';
  const tags = Array.isArray(meta.tags) ? meta.tags.filter(t => typeof t === 'string') : [];
  return {
    title: text(meta.title) || name.replace(/\.ipynb$/i, ''),
    module: text(meta.module),
    slug: text(meta.slug) || slugify(name),
    category: text(meta.category),
    difficulty: text(meta.difficulty),
    tags: tags.join(', ')
  };
}

/**
 * Why a notebook is not a question's source, or null when it may be one. A learner's
 * copy of a question (`question_id`, opened from the Questions tab) and a preview
 * (`preview`) hold the student version, whose metadata carries the source's `id`:
 * saving one would replace the question's solutions and hidden tests with stubs.
 */
export function notASource(raw: unknown): string | null {
  const meta = metadataObject(raw);
  const shown = (value: unknown) => (value === undefined || value === null ? null : String(value));
  const elsewhere = 'author the question in its source notebook.';
  const preview = shown(meta.preview);
  if (preview !== null) {
    return `This is a preview of question ${preview}, as learners get it: ${elsewhere}`;
  }
  const copy = shown(meta.question_id);
  if (copy !== null) {
    return (
      `This is a copy of question ${copy} as learners get it ` +
      `(opened from the Questions tab): ${elsewhere}`
    );
  }
  return null;
}

/** The question id saved in `metadata.coursehub.id`, or null before the first save. */
export function savedQuestionId(raw: unknown): number | string | null {
  const id = metadataObject(raw).id;
  return typeof id === 'number' || (typeof id === 'string' && id !== '') ? id : null;
}

/** "a, b,, c, a" -> ["a", "b", "c"]: trimmed, empty ones dropped, each once. */
export function parseTags(typed: string): string[] {
  const tags = typed
    .split(',')
    .map(t => t.trim())
    .filter(t => t.length > 0);
  return [...new Set(tags)];
}

/**
 * `metadata.coursehub` for the form: the previous metadata's other keys and `id` kept,
 * the form's fields replaced, empty category and difficulty left out.
 */
export function buildMetadata(form: IAuthoringForm, previous: unknown): IAuthoringMetadata {
  const meta: IAuthoringMetadata = {
    ...metadataObject(previous),
    title: form.title.trim(),
    module: form.module,
    slug: form.slug.trim(),
    tags: parseTags(form.tags)
  };
  delete meta.category;
  delete meta.difficulty;
  delete meta.question_id;
  if (form.category.trim()) {
    meta.category = form.category.trim();
  }
  if (form.difficulty) {
    meta.difficulty = form.difficulty;
  }
  return meta;
}

/** `metadata.coursehub` with the question's id recorded after its first save. */
export function withQuestionId(meta: IAuthoringMetadata, id: number | string): IAuthoringMetadata {
  return { ...meta, id };
}

/** What is wrong with the form before anything is sent (the grader checks again). */
export function formProblems(form: IAuthoringForm, modules: IModule[]): string[] {
  const problems: string[] = [];
  if (!form.title.trim()) {
    problems.push('A title is required.');
  }
  if (!form.module) {
    problems.push('Choose the module the question belongs to.');
  } else if (!modules.some(m => m.slug === form.module)) {
    problems.push(`The course has no module "${form.module}".`);
  }
  if (!SLUG_PATTERN.test(form.slug.trim())) {
    problems.push(
      "The slug must be lower-case letters, digits, '-' and '_', starting with a letter or digit."
    );
  }
  if (form.difficulty && !(DIFFICULTIES as readonly string[]).includes(form.difficulty)) {
    problems.push(`Difficulty must be one of ${DIFFICULTIES.join(', ')}.`);
  }
  return problems;
}

/** `POST questions`: a new question of the course, saved as a draft (`release: null`). */
export function createBody(
  form: IAuthoringForm,
  course: string,
  module: IModule,
  notebook: unknown
): Record<string, unknown> {
  return {
    course,
    module: module.id,
    slug: form.slug.trim(),
    title: form.title.trim(),
    category: form.category.trim(),
    difficulty: form.difficulty,
    tags: parseTags(form.tags),
    notebook,
    release: null
  };
}

/**
 * `PUT questions/{id}`: a new version (its fields and notebook); its release is left
 * as it is. `regrade` asks the grader to grade the existing submissions again.
 */
export function updateBody(
  form: IAuthoringForm,
  notebook: unknown,
  regrade: boolean
): Record<string, unknown> {
  return {
    title: form.title.trim(),
    category: form.category.trim(),
    difficulty: form.difficulty,
    tags: parseTags(form.tags),
    notebook,
    regrade
  };
}

/**
 * Whether saving a new version should ask about regrading: learners may have answered
 * a released question (and one whose state is unknown might be released).
 */
export function mayHaveSubmissions(question: Pick<IQuestion, 'status'> | null): boolean {
  return !question || question.status === undefined || question.status === 'released';
}

/** "draft", "scheduled for 3 Mar 2025, 14:00", "released 1 Mar 2025, 09:00". */
export function statusText(
  question: Pick<IQuestion, 'status' | 'released'>,
  format: IDateFormat = {}
): string {
  const when = parseTime(question.released);
  switch (question.status) {
    case 'draft':
      return 'draft (learners do not see it)';
    case 'scheduled':
      return when === null ? 'scheduled' : `scheduled for ${formatDateTime(when, format)}`;
    default:
      return when === null ? 'released' : `released ${formatDateTime(when, format)}`;
  }
}

/**
 * A `<input type="datetime-local">` value ("2025-03-03T14:00", the learner's local
 * time) as the ISO time the grader takes; null for an empty or invalid one.
 */
export function releaseTime(localValue: string): string | null {
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?$/.test(localValue)) {
    return null;
  }
  // without a zone, Date reads date-times as local time: what the instructor meant
  const ms = new Date(localValue).getTime();
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

/** The validation's scores: "Reference solution: 3 / 3", "Student version: 0 / 3". */
export function validationLines(result: IValidation): string[] {
  const lines: string[] = [];
  if (result.reference) {
    lines.push(
      `Reference solution: ${formatScore(result.reference.score, result.reference.max_score)}`
    );
  }
  if (result.stub) {
    lines.push(`Student version: ${formatScore(result.stub.score, result.stub.max_score)}`);
  }
  return lines;
}

/** Whether a regrade has finished: nothing waiting or running. */
export function regradeFinished(progress: IRegradeProgress): boolean {
  return progress.queued + progress.running === 0;
}

/** "6 of 10 regraded, 3 waiting, 1 running", with errors when there are. */
export function regradeText(progress: IRegradeProgress): string {
  const done = progress.graded + progress.error;
  const parts = [`${done} of ${progress.total} regraded`];
  if (progress.queued) {
    parts.push(`${progress.queued} waiting`);
  }
  if (progress.running) {
    parts.push(`${progress.running} running`);
  }
  if (progress.error) {
    parts.push(`${progress.error} failed`);
  }
  return parts.join(', ');
}

/** The regrade's progress as a percent, for a progress bar (100 with nothing to do). */
export function regradePercent(progress: IRegradeProgress): number {
  if (progress.total <= 0) {
    return 100;
  }
  return Math.round(((progress.graded + progress.error) * 100) / progress.total);
}
