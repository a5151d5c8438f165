/**
 * The question-type widgets' views: a choice list, the blanks of a fill-in question,
 * and a flashcard's bars (Show answer; Again / Hard / Good / Easy). Each reads and
 * writes its answer through an IAnswerCell (the answer cell's source, see answers.ts),
 * so what is saved and submitted is the notebook, as for any question.
 */
import type { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ReactWidget } from '@jupyterlab/ui-components';
import React from 'react';

import {
  choiceSource,
  fillInSource,
  IBlank,
  IChoiceSpec,
  orderedChoiceIds,
  parseChoiceSource,
  parseFillInSource
} from './answers';
import { nextReviewText, RATINGS } from './due';

/** The answer cell as a widget sees it. */
export interface IAnswerCell {
  source(): string;
  setSource(source: string): void;
  /** a read-only copy (a preview, a past submission): shown, not changed */
  readOnly(): boolean;
  /** show or hide the cell's code editor (hidden while the widget stands for it) */
  showCode(shown: boolean): void;
}

namespace Private {
  let counter = 0;
  export function next(): number {
    return ++counter;
  }
}

/** Markdown rendered by the notebook's own renderers (sanitized: never trusted). */
function Markdown(props: {
  text: string;
  rendermime: IRenderMimeRegistry | null;
  className: string;
}): JSX.Element {
  const { text, rendermime } = props;
  const ref = React.useRef<HTMLDivElement>(null);
  React.useEffect(() => {
    const host = ref.current;
    if (!host) {
      return;
    }
    if (!rendermime) {
      host.textContent = text;
      return () => {
        host.textContent = '';
      };
    }
    const renderer = rendermime.createRenderer('text/markdown');
    let disposed = false;
    renderer
      .renderModel({
        data: { 'text/markdown': text },
        metadata: {},
        trusted: false,
        setData: () => undefined
      })
      .catch(() => {
        if (!disposed) {
          renderer.node.textContent = text;
        }
      });
    host.appendChild(renderer.node);
    return () => {
      disposed = true;
      renderer.dispose();
      host.textContent = '';
    };
  }, [text, rendermime]);
  return <div className={props.className} ref={ref} />;
}

/** The "Show code" toggle of an answer cell, for the curious. */
function CodeToggle(props: { shown: boolean; onToggle: () => void }): JSX.Element {
  return (
    <button
      type="button"
      className="ch-link ch-qt-codeToggle"
      data-testid="ch-qt-code-toggle"
      aria-pressed={props.shown}
      onClick={props.onToggle}
    >
      {props.shown ? 'Hide code' : 'Show code'}
    </button>
  );
}

/** Shown when the answer cell's code is not what the widget writes. */
const EDITED_NOTE =
  'The answer was edited as code and cannot be shown here; choosing here replaces it.';

/**
 * Abstract base of the answer-cell widgets: the cell, the code toggle, and reading the
 * cell again whenever its source changes (an edit by hand, undo, a reload).
 */
abstract class AnswerCellWidget extends ReactWidget {
  codeShown = false;

  constructor(protected cell: IAnswerCell) {
    super();
    this.addClass('ch-QuestionTypeWidget');
  }

  /** Read the answer from the cell's source. */
  abstract sync(): void;

  toggleCode(): void {
    this.codeShown = !this.codeShown;
    this.cell.showCode(this.codeShown);
    this.update();
  }
}

export class ChoiceWidget extends AnswerCellWidget {
  /** null: the source cannot be read as a choice */
  selected: string[] | null = [];
  readonly group = `ch-choice-${Private.next()}`;

  constructor(
    cell: IAnswerCell,
    readonly spec: IChoiceSpec,
    readonly rendermime: IRenderMimeRegistry | null
  ) {
    super(cell);
    this.addClass('ch-ChoiceWidget');
    this.sync();
  }

  sync(): void {
    this.selected = parseChoiceSource(this.cell.source(), this.spec);
    this.update();
  }

  choose(id: string, checked: boolean): void {
    if (this.cell.readOnly()) {
      return;
    }
    const current = this.selected ?? [];
    let next: string[];
    if (!this.spec.multiple) {
      next = checked ? [id] : [];
    } else {
      next = checked ? [...current, id] : current.filter(c => c !== id);
    }
    this.selected = orderedChoiceIds(next, this.spec.choices);
    this.cell.setSource(choiceSource(this.selected, this.spec));
    this.update();
  }

  render(): JSX.Element {
    const selected = new Set(this.selected ?? []);
    const readOnly = this.cell.readOnly();
    const type = this.spec.multiple ? 'checkbox' : 'radio';
    return (
      <div className="ch-qt-answer">
        <fieldset className="ch-qt-choices" data-testid="ch-qt-choices" disabled={readOnly}>
          <legend className="ch-qt-legend">
            {this.spec.multiple ? 'Choose every answer that applies' : 'Choose one answer'}
          </legend>
          {this.selected === null && (
            <p className="ch-qt-note" role="note">
              {EDITED_NOTE}
            </p>
          )}
          {this.spec.choices.map(choice => (
            <label
              key={choice.id}
              className={`ch-qt-choice${selected.has(choice.id) ? ' ch-mod-selected' : ''}`}
              data-testid="ch-qt-choice"
              data-choice-id={choice.id}
            >
              <input
                type={type}
                name={this.group}
                value={choice.id}
                checked={selected.has(choice.id)}
                onChange={e => this.choose(choice.id, e.currentTarget.checked)}
              />
              <Markdown
                text={choice.text}
                rendermime={this.rendermime}
                className="ch-qt-choiceText"
              />
            </label>
          ))}
        </fieldset>
        {/* outside the fieldset: a read-only copy's code can be looked at too */}
        <CodeToggle shown={this.codeShown} onToggle={() => this.toggleCode()} />
      </div>
    );
  }
}

export class FillInWidget extends AnswerCellWidget {
  /** null: the source cannot be read as the blanks' values */
  values: Record<string, string> | null = null;
  private readonly prefix = `ch-blank-${Private.next()}`;

  constructor(
    cell: IAnswerCell,
    readonly blanks: IBlank[]
  ) {
    super(cell);
    this.addClass('ch-FillInWidget');
    this.sync();
  }

  sync(): void {
    this.values = parseFillInSource(this.cell.source(), this.blanks);
    this.update();
  }

  fill(id: string, value: string): void {
    if (this.cell.readOnly()) {
      return;
    }
    const values = { ...(this.values ?? {}), [id]: value };
    this.values = values;
    this.cell.setSource(fillInSource(values, this.blanks));
    this.update();
  }

  render(): JSX.Element {
    const readOnly = this.cell.readOnly();
    return (
      <div className="ch-qt-answer">
        <fieldset className="ch-qt-blanks" data-testid="ch-qt-blanks" disabled={readOnly}>
          <legend className="ch-qt-legend">Your answers</legend>
          {this.values === null && (
            <p className="ch-qt-note" role="note">
              {EDITED_NOTE.replace('choosing', 'typing')}
            </p>
          )}
          {this.blanks.map((blank, i) => {
            const id = `${this.prefix}-${i}`;
            return (
              <div key={blank.id} className="ch-qt-blank">
                <label htmlFor={id} className="ch-qt-blankLabel">
                  {blank.label}
                </label>
                <input
                  id={id}
                  type="text"
                  className="ch-qt-blankInput"
                  data-testid="ch-qt-blank"
                  data-blank-id={blank.id}
                  inputMode={blank.kind === 'number' ? 'decimal' : 'text'}
                  autoComplete="off"
                  spellCheck={false}
                  value={this.values?.[blank.id] ?? ''}
                  onChange={e => this.fill(blank.id, e.currentTarget.value)}
                />
              </div>
            );
          })}
        </fieldset>
        {/* outside the fieldset: a read-only copy's code can be looked at too */}
        <CodeToggle shown={this.codeShown} onToggle={() => this.toggleCode()} />
      </div>
    );
  }
}

/** What a flashcard's bars show and do; see FlashcardController. */
export interface IFlashcardState {
  flipped: boolean;
  /** a rating is on its way */
  busy: boolean;
  /** rated in this sitting: the due time below is the new one */
  rated: boolean;
  /** the card's due time, from the grader (null: never reviewed, or unknown) */
  due: string | null;
  message: string | null;
  /** ratings are recorded (the learner's own copy, not a preview) */
  canRate: boolean;
  flip(): void;
  rate(value: number): void;
  again(): void;
}

/** Under the card's front: "Show answer", and when the card is due. */
export class FlashcardFrontBar extends ReactWidget {
  constructor(private state: IFlashcardState) {
    super();
    this.addClass('ch-QuestionTypeWidget');
    this.addClass('ch-FlashcardBar');
  }

  render(): JSX.Element {
    const state = this.state;
    const due = state.rated ? '' : nextReviewText(state.due, Date.now());
    return (
      <div className="ch-qt-cardBar" data-testid="ch-qt-card-front">
        {!state.flipped && (
          <button
            type="button"
            className="ch-button ch-qt-flip"
            data-testid="ch-qt-flip"
            onClick={() => state.flip()}
          >
            Show answer
          </button>
        )}
        {due && !state.flipped && <span className="ch-muted ch-qt-due">{due}</span>}
      </div>
    );
  }
}

/** Under the card's back, once flipped: how well it was remembered, then when next. */
export class FlashcardRatingBar extends ReactWidget {
  constructor(private state: IFlashcardState) {
    super();
    this.addClass('ch-QuestionTypeWidget');
    this.addClass('ch-FlashcardBar');
  }

  render(): JSX.Element {
    const state = this.state;
    if (!state.flipped) {
      return <div className="ch-qt-cardBar" />;
    }
    const next = nextReviewText(state.due, Date.now());
    return (
      <div className="ch-qt-cardBar" data-testid="ch-qt-card-back" aria-live="polite">
        {state.message && (
          <div className="ch-error" role="alert">
            {state.message}
          </div>
        )}
        {!state.canRate && (
          <span className="ch-muted">A copy to look at: ratings are not recorded.</span>
        )}
        {state.canRate && !state.rated && (
          <div className="ch-qt-ratings" role="group" aria-label="How well did you remember it?">
            {RATINGS.map(r => (
              <button
                key={r.value}
                type="button"
                className={`ch-button ch-qt-rating ch-qt-rating-${r.value}`}
                data-testid="ch-qt-rating"
                data-rating={r.value}
                title={r.meaning}
                disabled={state.busy}
                onClick={() => state.rate(r.value)}
              >
                {r.label}
              </button>
            ))}
          </div>
        )}
        {state.rated && (
          <>
            <span className="ch-qt-due" data-testid="ch-qt-next-review">
              {next || 'Rated.'}
            </span>{' '}
            <button type="button" className="ch-link" onClick={() => state.again()}>
              Study it again
            </button>
          </>
        )}
      </div>
    );
  }
}
