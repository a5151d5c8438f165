/**
 * Pure helpers of the question-type widgets: what a question notebook's metadata says
 * (its type, the answer cell's choices or blanks, a flashcard's sides), and the answer
 * cell's source, written and read back.
 *
 * The widgets never keep an answer of their own: the answer cell's source is the
 * answer (`answer = "b"`, `answer = ["b", "d"]`, `answer = {"capital": "Paris"}`), so
 * saving and Submit work as for any notebook, and a notebook opened again shows the
 * choice it was saved with. Everything written is one line of valid Python whose value
 * is also JSON, which is how it is read back. No JupyterLab import: unit-tested.
 */

export type QuestionType = 'notebook' | 'choice' | 'fill_in' | 'flashcard';

export interface IChoice {
  id: string;
  /** markdown */
  text: string;
}

export interface IChoiceSpec {
  /** in the order the learner sees them (the grader shuffles them per learner) */
  choices: IChoice[];
  /** checkboxes (any number of ids) rather than radio buttons (one) */
  multiple: boolean;
}

export interface IBlank {
  id: string;
  label: string;
  /** "number": a numeric keypad on phones; the value is written as a string anyway */
  kind: 'text' | 'number';
}

export type CardSide = 'front' | 'back';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `metadata.coursehub` of a notebook or a cell, or {}. */
function coursehubOf(metadata: unknown): Record<string, unknown> {
  const coursehub = isObject(metadata) ? metadata.coursehub : undefined;
  return isObject(coursehub) ? coursehub : {};
}

/**
 * The answer cell's choices, from the cell's `metadata.coursehub`, or null when the
 * cell has none. Choices without a string id, and repeated ids, are left out (the
 * grader validated them; a hand-edited notebook must not break the widget).
 */
export function choiceSpecOf(cellMetadata: unknown): IChoiceSpec | null {
  const coursehub = coursehubOf(cellMetadata);
  if (!Array.isArray(coursehub.choices)) {
    return null;
  }
  const seen = new Set<string>();
  const choices: IChoice[] = [];
  for (const item of coursehub.choices) {
    if (!isObject(item) || typeof item.id !== 'string' || seen.has(item.id)) {
      continue;
    }
    seen.add(item.id);
    choices.push({ id: item.id, text: typeof item.text === 'string' ? item.text : '' });
  }
  return { choices, multiple: coursehub.multiple === true };
}

/** The answer cell's blanks, from the cell's `metadata.coursehub`, or null. */
export function blanksOf(cellMetadata: unknown): IBlank[] | null {
  const coursehub = coursehubOf(cellMetadata);
  if (!Array.isArray(coursehub.blanks)) {
    return null;
  }
  const seen = new Set<string>();
  const blanks: IBlank[] = [];
  for (const item of coursehub.blanks) {
    if (!isObject(item) || typeof item.id !== 'string' || seen.has(item.id)) {
      continue;
    }
    seen.add(item.id);
    blanks.push({
      id: item.id,
      label: typeof item.label === 'string' && item.label ? item.label : item.id,
      kind: item.kind === 'number' ? 'number' : 'text'
    });
  }
  return blanks;
}

/** Which side of a flashcard a markdown cell is, or null. */
export function cardSideOf(cellMetadata: unknown): CardSide | null {
  const card = coursehubOf(cellMetadata).card;
  return card === 'front' || card === 'back' ? card : null;
}

/**
 * The notebook's question type: `metadata.coursehub.type` when it names one, else what
 * its cells show (an instructor's preview and a past submission's copy keep the cells'
 * metadata, not the type).
 */
export function questionTypeOf(notebookMetadata: unknown, cellMetadata: unknown[]): QuestionType {
  const declared = coursehubOf(notebookMetadata).type;
  if (
    declared === 'notebook' ||
    declared === 'choice' ||
    declared === 'fill_in' ||
    declared === 'flashcard'
  ) {
    return declared;
  }
  if (cellMetadata.some(m => choiceSpecOf(m) !== null)) {
    return 'choice';
  }
  if (cellMetadata.some(m => blanksOf(m) !== null)) {
    return 'fill_in';
  }
  if (cellMetadata.some(m => cardSideOf(m) !== null)) {
    return 'flashcard';
  }
  return 'notebook';
}

/**
 * Whether the notebook is a learner's copy (their own, an instructor's preview, a past
 * submission), where the answer cell becomes a widget; never an author's source
 * notebook, whose answer cell holds the key between solution markers.
 */
export function isLearnerCopy(notebookMetadata: unknown): boolean {
  const coursehub = coursehubOf(notebookMetadata);
  return ['question_id', 'preview', 'submission'].some(
    key => coursehub[key] !== undefined && coursehub[key] !== null && coursehub[key] !== ''
  );
}

/** The notebook's question id (for rating a flashcard), or null (previews, copies). */
export function questionIdOf(notebookMetadata: unknown): string | null {
  const id = coursehubOf(notebookMetadata).question_id;
  return typeof id === 'number' || (typeof id === 'string' && id !== '') ? String(id) : null;
}

/**
 * A Python string literal holding `value`: JSON's escapes are all valid in Python
 * (`\"`, `\\`, `\n`, `\uXXXX` ...), and the line and paragraph separators, which JSON
 * leaves as they are, are escaped too so the literal stays on one line.
 */
export function pythonString(value: string): string {
  return JSON.stringify(value).replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** The ids in `selected` that are choices, once each, in the choices' order. */
export function orderedChoiceIds(
  selected: readonly string[],
  choices: readonly IChoice[]
): string[] {
  const chosen = new Set(selected);
  return choices.filter(c => chosen.has(c.id)).map(c => c.id);
}

/**
 * The answer cell's source for `selected`: `answer = "b"` (single; `answer = None` when
 * nothing is chosen) or `answer = ["b", "d"]` (multiple, in the choices' order).
 */
export function choiceSource(selected: readonly string[], spec: IChoiceSpec): string {
  const ids = orderedChoiceIds(selected, spec.choices);
  if (spec.multiple) {
    return `answer = [${ids.map(pythonString).join(', ')}]`;
  }
  return ids.length ? `answer = ${pythonString(ids[0])}` : 'answer = None';
}

/**
 * The answer cell's source for the blanks' `values`: `answer = {"capital": "Paris"}`,
 * every blank in order, an empty string for one not filled in.
 */
export function fillInSource(
  values: Readonly<Record<string, string>>,
  blanks: readonly IBlank[]
): string {
  const entries = blanks.map(b => {
    const value = Object.prototype.hasOwnProperty.call(values, b.id) ? values[b.id] : '';
    return `${pythonString(b.id)}: ${pythonString(value ?? '')}`;
  });
  return `answer = {${entries.join(', ')}}`;
}

/** `expression` as JSON, Python's None as null; undefined when it is neither. */
function parseValue(expression: string): Json | undefined {
  const text = expression.trim();
  if (text === 'None') {
    return null;
  }
  try {
    return JSON.parse(text) as Json;
  } catch {
    return undefined;
  }
}

/**
 * The value assigned to `answer` in an answer cell's source, or undefined when the
 * source is not one `answer = <value>` statement the widgets could have written (the
 * learner edited the code by hand). Blank lines and comment lines are ignored, and so
 * is a comment after the value.
 */
export function answerValue(source: string): Json | undefined {
  const lines = source
    .split(/\r?\n/)
    .map(line => line.trim())
    .filter(line => line !== '' && !line.startsWith('#'));
  const match = /^answer\s*=\s*([\s\S]+)$/.exec(lines.join('\n'));
  if (!match) {
    return undefined;
  }
  const expression = match[1];
  const whole = parseValue(expression);
  if (whole !== undefined) {
    return whole;
  }
  // a trailing comment: try each '#' from the right (one inside a string fails to parse)
  for (let at = expression.lastIndexOf('#'); at > 0; at = expression.lastIndexOf('#', at - 1)) {
    const value = parseValue(expression.slice(0, at));
    if (value !== undefined) {
      return value;
    }
  }
  return undefined;
}

/**
 * The chosen ids the answer cell's source holds, in the choices' order (ids that are
 * not choices dropped), or null when it cannot be read.
 */
export function parseChoiceSource(source: string, spec: IChoiceSpec): string[] | null {
  const value = answerValue(source);
  if (value === undefined) {
    return null;
  }
  if (value === null) {
    return [];
  }
  if (typeof value === 'string') {
    return orderedChoiceIds([value], spec.choices);
  }
  if (Array.isArray(value) && value.every(v => typeof v === 'string')) {
    const ids = orderedChoiceIds(value as string[], spec.choices);
    return spec.multiple ? ids : ids.slice(0, 1);
  }
  return null;
}

/**
 * The blanks' values the answer cell's source holds (every blank present, '' when
 * missing; numbers read as their text), or null when it cannot be read.
 */
export function parseFillInSource(
  source: string,
  blanks: readonly IBlank[]
): Record<string, string> | null {
  const value = answerValue(source);
  if (value === undefined || (value !== null && !isObject(value))) {
    return null;
  }
  // no prototype: a blank named __proto__ is a blank like any other
  const values: Record<string, string> = Object.create(null);
  for (const blank of blanks) {
    const given = value === null ? undefined : (value as Record<string, Json>)[blank.id];
    values[blank.id] =
      typeof given === 'string' ? given : typeof given === 'number' ? String(given) : '';
  }
  return values;
}
