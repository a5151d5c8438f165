/**
 * Puts the question-type widgets into a question notebook's cells.
 *
 * Once the notebook is loaded, its type (`metadata.coursehub.type`, else what its
 * cells carry) says what to do: `choice` and `fill_in` put a widget under the answer
 * cell (the code cell with `coursehub.choices` / `coursehub.blanks`) and hide its code
 * editor; `flashcard` shows the front cell as a card with "Show answer", the back cell
 * hidden until then, and the ratings under it. Only in a learner's copy (their own, a
 * preview, a past submission): an author's source notebook keeps its code as it is.
 * Cells added later (undo, paste) are looked at again when the notebook's cells change.
 */
import type { Cell } from '@jupyterlab/cells';
import { NotebookPanel } from '@jupyterlab/notebook';
import { PanelLayout, Widget } from '@lumino/widgets';

import { CoursehubAPI } from '../api';
import {
  blanksOf,
  cardSideOf,
  choiceSpecOf,
  isLearnerCopy,
  questionIdOf,
  questionTypeOf,
  QuestionType
} from './answers';
import { durationMs } from './due';
import {
  ChoiceWidget,
  FillInWidget,
  FlashcardFrontBar,
  FlashcardRatingBar,
  IAnswerCell,
  IFlashcardState
} from './widgets';

/** A review card as the grader's `reviews/{id}` answers (the fields used here). */
interface IReviewCard {
  due: string | null;
}

/** Put `widget` right under `cell`'s input (its editor, or a markdown cell's text). */
function insertUnderInput(cell: Cell, widget: Widget): void {
  const layout = cell.layout as PanelLayout;
  const index = layout.widgets.findIndex(w => w.hasClass('jp-Cell-inputWrapper'));
  layout.insertWidget(index >= 0 ? index + 1 : layout.widgets.length, widget);
}

export class QuestionTypeController {
  type: QuestionType = 'notebook';
  private bound = new WeakSet<Cell>();
  private flashcard: FlashcardController | null = null;
  private _isDisposed = false;

  constructor(
    private panel: NotebookPanel,
    private api: CoursehubAPI
  ) {}

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this.panel.model?.cells.changed.disconnect(this.scan, this);
  }

  /** Called once the notebook is loaded. */
  start(): void {
    const model = this.panel.model;
    if (this._isDisposed || !model) {
      return;
    }
    const metadata = { coursehub: model.getMetadata('coursehub') };
    if (!isLearnerCopy(metadata)) {
      return;
    }
    const cellMetadata = this.panel.content.widgets.map(c => c.model.metadata);
    this.type = questionTypeOf(metadata, cellMetadata);
    if (this.type === 'notebook') {
      return;
    }
    this.panel.addClass(`ch-mod-questionType-${this.type}`);
    if (this.type === 'flashcard') {
      this.flashcard = new FlashcardController(this.api, questionIdOf(metadata));
      void this.flashcard.load();
      // a flashcard is rated, not submitted: no results area (the Submit button is
      // hidden by the class above); it is added once the notebook is ready too
      setTimeout(() => this.hideResultsArea(), 0);
    }
    model.cells.changed.connect(this.scan, this);
    this.scan();
  }

  private hideResultsArea(): void {
    for (const widget of (this.panel.layout as PanelLayout).widgets) {
      if (widget.hasClass('ch-ResultsArea')) {
        widget.hide();
      }
    }
  }

  /** Give every cell not yet seen its widget, if it is one of the question's. */
  scan(): void {
    if (this._isDisposed) {
      return;
    }
    for (const cell of this.panel.content.widgets) {
      if (this.bound.has(cell)) {
        continue;
      }
      const metadata = cell.model.metadata;
      if (this.type === 'choice' && cell.model.type === 'code') {
        const spec = choiceSpecOf(metadata);
        if (spec) {
          const rendermime = this.panel.content.rendermime ?? null;
          void this.bindAnswerCell(cell, host => new ChoiceWidget(host, spec, rendermime));
        }
      } else if (this.type === 'fill_in' && cell.model.type === 'code') {
        const blanks = blanksOf(metadata);
        if (blanks) {
          void this.bindAnswerCell(cell, host => new FillInWidget(host, blanks));
        }
      } else if (this.type === 'flashcard' && this.flashcard) {
        const side = cardSideOf(metadata);
        if (side) {
          this.bound.add(cell);
          this.flashcard.add(cell, side);
        }
      }
    }
  }

  private async bindAnswerCell(
    cell: Cell,
    make: (host: IAnswerCell) => ChoiceWidget | FillInWidget
  ): Promise<void> {
    this.bound.add(cell);
    await cell.ready; // its input exists only once rendered
    if (cell.isDisposed || this._isDisposed) {
      return;
    }
    const shared = cell.model.sharedModel;
    const host: IAnswerCell = {
      source: () => shared.getSource(),
      setSource: source => {
        if (shared.getSource() !== source) {
          shared.setSource(source);
        }
      },
      readOnly: () => cell.readOnly,
      showCode: shown => cell.toggleClass('ch-mod-codeShown', shown)
    };
    const widget = make(host);
    cell.addClass('ch-AnswerCell');
    insertUnderInput(cell, widget);
    const sync = () => widget.sync();
    cell.model.contentChanged.connect(sync);
    cell.disposed.connect(() => {
      widget.dispose();
    });
  }
}

/**
 * A flashcard's state and its two bars: the front's ("Show answer") and the back's
 * (the ratings, then when the card is due next). Backs are hidden until flipped.
 */
class FlashcardController implements IFlashcardState {
  flipped = false;
  busy = false;
  rated = false;
  due: string | null = null;
  message: string | null = null;
  readonly canRate: boolean;
  private shownAt = Date.now();
  private fronts: Cell[] = [];
  private backs: Cell[] = [];
  private frontBar = new FlashcardFrontBar(this);
  private ratingBar = new FlashcardRatingBar(this);

  constructor(
    private api: CoursehubAPI,
    private questionId: string | null
  ) {
    this.canRate = questionId !== null;
  }

  /** When the card is due (none for a card never rated: state "new"). */
  async load(): Promise<void> {
    if (this.questionId === null) {
      return;
    }
    try {
      const card = await this.api.request<IReviewCard>(
        `reviews/${encodeURIComponent(this.questionId)}`
      );
      this.due = card?.due ?? null;
    } catch {
      return;
    }
    this.refresh();
  }

  add(cell: Cell, side: 'front' | 'back'): void {
    cell.addClass(side === 'front' ? 'ch-qt-cardFront' : 'ch-qt-cardBack');
    if (side === 'back') {
      cell.toggleClass('ch-mod-cardHidden', !this.flipped);
      this.backs.push(cell);
    } else {
      this.fronts.push(cell);
    }
    cell.disposed.connect(() => {
      this.fronts = this.fronts.filter(c => c !== cell);
      this.backs = this.backs.filter(c => c !== cell);
    });
    void this.place();
  }

  /** The front bar under the first front, the rating bar under the last back. */
  private async place(): Promise<void> {
    const front = this.fronts[0];
    const back = this.backs[this.backs.length - 1] ?? front;
    if (front) {
      await front.ready;
      if (!front.isDisposed && this.frontBar.parent !== front) {
        insertUnderInput(front, this.frontBar);
      }
    }
    if (back) {
      await back.ready;
      if (!back.isDisposed && this.ratingBar.parent !== back) {
        if (back === front) {
          (back.layout as PanelLayout).insertWidget(
            (back.layout as PanelLayout).widgets.indexOf(this.frontBar) + 1,
            this.ratingBar
          );
        } else {
          insertUnderInput(back, this.ratingBar);
        }
      }
    }
  }

  flip(): void {
    this.flipped = true;
    this.showBacks();
    this.refresh();
  }

  again(): void {
    this.flipped = false;
    this.rated = false;
    this.message = null;
    this.shownAt = Date.now();
    this.showBacks();
    this.refresh();
  }

  async rate(value: number): Promise<void> {
    if (this.questionId === null || this.busy) {
      return;
    }
    this.busy = true;
    this.refresh();
    try {
      const card = await this.api.request<IReviewCard>(
        `reviews/${encodeURIComponent(this.questionId)}`,
        {
          method: 'POST',
          body: JSON.stringify({
            rating: value,
            duration_ms: durationMs(this.shownAt, Date.now())
          })
        }
      );
      this.due = card?.due ?? null;
      this.rated = true;
      this.message = null;
    } catch (e) {
      this.message = (e as Error).message;
    } finally {
      this.busy = false;
      this.refresh();
    }
  }

  private showBacks(): void {
    for (const cell of this.backs) {
      cell.toggleClass('ch-mod-cardHidden', !this.flipped);
    }
  }

  private refresh(): void {
    this.frontBar.update();
    this.ratingBar.update();
  }
}
