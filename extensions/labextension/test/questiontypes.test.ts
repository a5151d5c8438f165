/// <reference types="node" />
import { execFileSync } from 'child_process';

import {
  answerValue,
  blanksOf,
  cardSideOf,
  choiceSource,
  choiceSpecOf,
  fillInSource,
  IBlank,
  IChoiceSpec,
  isLearnerCopy,
  orderedChoiceIds,
  parseChoiceSource,
  parseFillInSource,
  pythonString,
  questionIdOf,
  questionTypeOf
} from '../src/questiontypes/answers';
import { dueText, durationMs, nextReviewText, RATINGS } from '../src/questiontypes/due';

// the learner's shuffled order, as the grader serves it: not alphabetical
const single: IChoiceSpec = {
  choices: [
    { id: 'c', text: 'a *list*' },
    { id: 'a', text: 'a tuple' },
    { id: 'b', text: 'a dict' }
  ],
  multiple: false
};
const multiple: IChoiceSpec = { ...single, multiple: true };

const blanks: IBlank[] = [
  { id: 'capital', label: 'Capital of France', kind: 'text' },
  { id: 'pi', label: 'π to two decimals', kind: 'number' }
];

/**
 * What Python reads from a string literal written by pythonString: JSON is a subset
 * of Python's literal syntax for strings, so JSON.parse is a faithful stand-in, and the
 * literal must hold no raw newline (a Python string literal cannot).
 */
function pythonReads(literal: string): string {
  expect(literal).not.toMatch(/[\n\r\u2028\u2029]/);
  expect(literal.startsWith('"') && literal.endsWith('"')).toBe(true);
  return JSON.parse(literal);
}

describe('metadata', () => {
  it('reads the choices in the order given, dropping broken and repeated ones', () => {
    const spec = choiceSpecOf({
      coursehub: {
        choices: [
          { id: 'b', text: 'two' },
          { id: 'a', text: 'one' },
          { id: 'b', text: 'again' },
          { text: 'no id' },
          'nonsense'
        ],
        multiple: true
      }
    });
    expect(spec).toEqual({
      choices: [
        { id: 'b', text: 'two' },
        { id: 'a', text: 'one' }
      ],
      multiple: true
    });
    expect(choiceSpecOf({ coursehub: { choices: [{ id: 'a', text: 'x' }] } })?.multiple).toBe(
      false
    );
    expect(choiceSpecOf({ nbgrader: { solution: true } })).toBeNull();
    expect(choiceSpecOf(undefined)).toBeNull();
  });

  it('reads the blanks, a number kind, and the id as label when none is given', () => {
    expect(
      blanksOf({
        coursehub: {
          blanks: [
            { id: 'capital', label: 'Capital of France', kind: 'text' },
            { id: 'n', kind: 'number' },
            { id: 'x', label: 'X', kind: 'weird', answers: ['never shown anyway'] }
          ]
        }
      })
    ).toEqual([
      { id: 'capital', label: 'Capital of France', kind: 'text' },
      { id: 'n', label: 'n', kind: 'number' },
      { id: 'x', label: 'X', kind: 'text' }
    ]);
    expect(blanksOf({ coursehub: {} })).toBeNull();
  });

  it('knows the sides of a flashcard', () => {
    expect(cardSideOf({ coursehub: { card: 'front' } })).toBe('front');
    expect(cardSideOf({ coursehub: { card: 'back' } })).toBe('back');
    expect(cardSideOf({ coursehub: { card: 'side' } })).toBeNull();
    expect(cardSideOf({})).toBeNull();
  });

  it('takes the type from the notebook, else from its cells', () => {
    const choiceCell = { coursehub: { choices: [] } };
    expect(questionTypeOf({ coursehub: { type: 'fill_in' } }, [])).toBe('fill_in');
    expect(questionTypeOf({ coursehub: { type: 'notebook' } }, [choiceCell])).toBe('notebook');
    // a preview's metadata has no type: its cells say it
    expect(questionTypeOf({ coursehub: { preview: 4 } }, [{}, choiceCell])).toBe('choice');
    expect(questionTypeOf({}, [{ coursehub: { blanks: [] } }])).toBe('fill_in');
    expect(questionTypeOf({}, [{ coursehub: { card: 'front' } }])).toBe('flashcard');
    expect(questionTypeOf({ coursehub: { type: 'essay' } }, [{}])).toBe('notebook');
  });

  it('takes widgets to learner copies only, never to an author source notebook', () => {
    expect(isLearnerCopy({ coursehub: { question_id: 7, type: 'choice' } })).toBe(true);
    expect(isLearnerCopy({ coursehub: { preview: 7 } })).toBe(true);
    expect(isLearnerCopy({ coursehub: { submission: 41, question: 7 } })).toBe(true);
    // the source notebook carries its authoring fields (id, title ...), no question_id
    expect(isLearnerCopy({ coursehub: { id: 7, type: 'choice', title: 'Q' } })).toBe(false);
    expect(isLearnerCopy({})).toBe(false);
  });

  it('finds the question id to rate a flashcard with', () => {
    expect(questionIdOf({ coursehub: { question_id: 7 } })).toBe('7');
    expect(questionIdOf({ coursehub: { question_id: 'q-7' } })).toBe('q-7');
    expect(questionIdOf({ coursehub: { preview: 7 } })).toBeNull();
    expect(questionIdOf({ coursehub: { question_id: '' } })).toBeNull();
  });
});

describe('writing the answer cell', () => {
  it('writes one chosen id, or None', () => {
    expect(choiceSource(['a'], single)).toBe('answer = "a"');
    expect(choiceSource([], single)).toBe('answer = None');
    expect(choiceSource(['zzz'], single)).toBe('answer = None');
  });

  it('writes many ids in the order the choices are listed, each once', () => {
    expect(choiceSource(['b', 'c'], multiple)).toBe('answer = ["c", "b"]');
    expect(choiceSource(['b', 'c', 'b', 'nope'], multiple)).toBe('answer = ["c", "b"]');
    expect(choiceSource([], multiple)).toBe('answer = []');
    expect(orderedChoiceIds(['a', 'c'], single.choices)).toEqual(['c', 'a']);
  });

  it('writes every blank in order, an empty string for one not filled in', () => {
    expect(fillInSource({ pi: '3.14' }, blanks)).toBe('answer = {"capital": "", "pi": "3.14"}');
    expect(fillInSource({ capital: 'Paris', pi: '3,14', extra: 'x' }, blanks)).toBe(
      'answer = {"capital": "Paris", "pi": "3,14"}'
    );
  });

  it.each([
    ['quotes', 'say "hi"'],
    ['a backslash', 'C:\\temp\\new'],
    ['a trailing backslash', 'ends with \\'],
    ['single quotes', "it's"],
    ['a newline', 'two\nlines'],
    ['a carriage return', 'a\rb'],
    ['a tab and a NUL', 'a\tb\u0000c'],
    ['the line separators', 'a\u2028b\u2029c'],
    ['triple quotes', '"""'],
    ['non-ASCII', 'Zürich 東京 🎉'],
    ['what looks like code', '"; import os; os.system("rm -rf /"); x = "']
  ])('keeps a value with %s a valid Python string literal', (_, value) => {
    expect(pythonReads(pythonString(value))).toBe(value);
    const source = fillInSource({ capital: value }, blanks);
    expect(source.split('\n')).toHaveLength(1);
    expect(parseFillInSource(source, blanks)).toEqual({ capital: value, pi: '' });
  });

  it('escapes choice ids the same way', () => {
    const odd: IChoiceSpec = { choices: [{ id: 'a"b', text: '' }], multiple: true };
    const source = choiceSource(['a"b'], odd);
    expect(source).toBe('answer = ["a\\"b"]');
    expect(parseChoiceSource(source, odd)).toEqual(['a"b']);
  });
});

describe('reading the answer cell back', () => {
  it('reads what the widgets write', () => {
    for (const ids of [[], ['a'], ['b']]) {
      expect(parseChoiceSource(choiceSource(ids, single), single)).toEqual(ids);
    }
    for (const ids of [[], ['c'], ['c', 'a', 'b']]) {
      expect(parseChoiceSource(choiceSource(ids, multiple), multiple)).toEqual(ids);
    }
    const values = { capital: 'Paris', pi: '3.14' };
    expect(parseFillInSource(fillInSource(values, blanks), blanks)).toEqual(values);
  });

  it('reads the student version as nothing chosen, nothing filled in', () => {
    expect(parseChoiceSource('answer = None', single)).toEqual([]);
    expect(parseChoiceSource('answer = []', multiple)).toEqual([]);
    expect(parseFillInSource('answer = {"capital": "", "pi": ""}', blanks)).toEqual({
      capital: '',
      pi: ''
    });
    expect(parseFillInSource('answer = None', blanks)).toEqual({ capital: '', pi: '' });
  });

  it('reads a saved answer with blank lines and comments around it', () => {
    const source = '# your answer\n\nanswer = ["b", "c"]  # two of them\n';
    expect(parseChoiceSource(source, multiple)).toEqual(['c', 'b']);
    expect(answerValue('answer = "#1"  # the first')).toBe('#1');
    expect(answerValue('answer="a"')).toBe('a');
  });

  it('keeps only known ids, in the listed order, and one for a single choice', () => {
    expect(parseChoiceSource('answer = ["b", "zzz", "c"]', multiple)).toEqual(['c', 'b']);
    expect(parseChoiceSource('answer = ["b", "c"]', single)).toEqual(['c']);
    expect(parseChoiceSource('answer = "zzz"', single)).toEqual([]);
  });

  it('reads numbers in the blanks as their text and ignores unknown blanks', () => {
    expect(parseFillInSource('answer = {"pi": 3.14, "other": "x"}', blanks)).toEqual({
      capital: '',
      pi: '3.14'
    });
  });

  it('says when the code was edited into something else', () => {
    for (const source of [
      '',
      'answer = ',
      "answer = 'b'",
      'answer = "b"\nprint(answer)',
      'answer = 1 +',
      'def f(): pass',
      'x = "b"'
    ]) {
      expect(answerValue(source)).toBeUndefined();
      expect(parseChoiceSource(source, single)).toBeNull();
    }
    expect(parseChoiceSource('answer = {"a": 1}', multiple)).toBeNull();
    expect(parseChoiceSource('answer = [1, 2]', multiple)).toBeNull();
    expect(parseFillInSource('answer = ["Paris"]', blanks)).toBeNull();
    expect(parseFillInSource('answer = "Paris"', blanks)).toBeNull();
  });

  it('treats a blank named __proto__ like any other', () => {
    const odd: IBlank[] = [{ id: '__proto__', label: 'odd', kind: 'text' }];
    const source = fillInSource(JSON.parse('{"__proto__": "x"}'), odd);
    expect(source).toBe('answer = {"__proto__": "x"}');
    expect(parseFillInSource(source, odd)?.['__proto__']).toBe('x');
  });
});

describe('flashcards', () => {
  const now = Date.parse('2025-03-10T12:00:00Z');
  const later = (ms: number) => new Date(now + ms).toISOString();

  it('rates with FSRS values 1 to 4, in order', () => {
    expect(RATINGS.map(r => [r.value, r.label])).toEqual([
      [1, 'Again'],
      [2, 'Hard'],
      [3, 'Good'],
      [4, 'Easy']
    ]);
  });

  it('says when a card is due next', () => {
    expect(dueText(later(-1000), now)).toBe('due now');
    expect(dueText(later(0), now)).toBe('due now');
    expect(dueText(later(10 * 1000), now)).toBe('in 1 min');
    expect(dueText(later(10 * 60_000), now)).toBe('in 10 min');
    expect(dueText(later(3 * 3600_000), now)).toBe('in 3 h');
    expect(dueText(later(26 * 3600_000), now)).toBe('in 1 day');
    expect(dueText(later(12 * 86400_000), now)).toBe('in 12 days');
    expect(dueText(later(95 * 86400_000), now)).toBe('in 3 months');
    expect(dueText(null, now)).toBe('');
    expect(dueText('not a date', now)).toBe('');
  });

  it('words the next review', () => {
    expect(nextReviewText(later(4 * 86400_000), now)).toBe('Next review in 4 days');
    expect(nextReviewText(later(-5), now)).toBe('Due for review now');
    expect(nextReviewText(undefined, now)).toBe('');
  });

  it('measures the time taken in whole milliseconds, never negative', () => {
    expect(durationMs(1000, 4500.4)).toBe(3500);
    expect(durationMs(5000, 4000)).toBe(0);
  });
});

describe('the answer cell in Python itself', () => {
  // exec each source in a fresh namespace and print its `answer` as JSON
  const script = [
    'import json, sys',
    'for line in sys.stdin:',
    '    ns = {}',
    '    exec(compile(json.loads(line), "<answer cell>", "exec"), ns)',
    '    print(json.dumps(ns["answer"]))'
  ].join('\n');

  it('runs every source the widgets write and finds the answer they meant', () => {
    const tricky = [
      'Paris',
      'say "hi"',
      'C:\\temp\\',
      "it's",
      'two\nlines',
      'a\u2028b',
      '"""',
      'Zürich 🎉'
    ];
    const cases: [string, unknown][] = [
      [choiceSource([], single), null],
      [choiceSource(['b'], single), 'b'],
      [choiceSource(['b', 'c'], multiple), ['c', 'b']],
      ...tricky.map(
        v => [fillInSource({ capital: v }, blanks), { capital: v, pi: '' }] as [string, unknown]
      )
    ];
    const output = execFileSync(process.env.PYTHON ?? 'python3', ['-c', script], {
      input: cases.map(([source]) => JSON.stringify(source)).join('\n') + '\n',
      encoding: 'utf8'
    });
    const answers = output.trim().split('\n').map(line => JSON.parse(line));
    expect(answers).toEqual(cases.map(([, expected]) => expected));
  });
});
