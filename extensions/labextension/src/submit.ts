/**
 * Submitting a coursehub notebook: the toolbar button, the command, and the flow
 * save -> POST submit -> follow (event stream, else polling) -> the results area under
 * the notebook -> refresh the panel. The button is the toolbar's first item, so a narrow
 * notebook never pushes it into the toolbar's overflow menu. The button and the command
 * follow the question's rules: disabled, with a countdown, while a cool-off runs;
 * disabled once every submission is used or the due date passed on a question that
 * refuses late ones.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { DocumentRegistry } from '@jupyterlab/docregistry';
import { INotebookModel, INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { BoxLayout, Widget } from '@lumino/widgets';

import { answerCells } from './ai';
import { CoursehubAPI, CoursehubError } from './api';
import { Refresh } from './events';
import { IntegrityWatch } from './integrityWatch';
import { LearnerSettings } from './learner';
import { INITIAL_STATE, reduce } from './results';
import { ResultsArea } from './resultsArea';
import { countdownText, ISubmitBlock, submitBlock, withRetryAfter } from './rules';
import { IQuestion } from './types';

export const SUBMIT_COMMAND = 'coursehub:submit';

/** The notebook's `metadata.coursehub.question_id`, or null for other notebooks. */
export function questionIdOf(panel: NotebookPanel | null | undefined): string | null {
  const meta = panel?.model?.getMetadata('coursehub') as { question_id?: unknown } | undefined;
  const id = meta?.question_id;
  return id === undefined || id === null || id === '' ? null : String(id);
}

/**
 * The submission rules of the questions whose notebooks are open, as the grader last
 * said (`GET questions/{id}`): asked when a notebook opens, after each submission and
 * when the panel refreshes. Unknown rules block nothing: the grader decides anyway.
 */
export class SubmitRules {
  private questions = new Map<string, IQuestion>();
  private listeners = new Set<() => void>();

  constructor(private api: CoursehubAPI) {}

  /** Call `listener` whenever some question's rules change; returns the disconnect. */
  connect(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The question as the grader last said (its course, its rules), if known. */
  question(questionId: string): IQuestion | undefined {
    return this.questions.get(questionId);
  }

  /** Why submitting to the question is refused now, or null. */
  block(questionId: string, now: number = Date.now()): ISubmitBlock | null {
    return submitBlock(this.questions.get(questionId) ?? null, now);
  }

  async load(questionId: string): Promise<void> {
    try {
      const { notebook: _student, ...summary } = await this.api.question(questionId);
      this.questions.set(questionId, summary);
    } catch {
      return; // rules unknown: the button stays enabled and the grader decides
    }
    this.changed();
  }

  reloadAll(): void {
    for (const questionId of this.questions.keys()) {
      void this.load(questionId);
    }
  }

  /** The grader refused with a cool-off (429, Retry-After in seconds). */
  coolOff(questionId: string, seconds: number): void {
    const known = this.questions.get(questionId) ?? ({} as IQuestion);
    this.questions.set(questionId, withRetryAfter(known, seconds, Date.now()));
    this.changed();
  }

  private changed(): void {
    for (const listener of [...this.listeners]) {
      listener();
    }
  }
}

export class Submitter {
  private areas = new Map<NotebookPanel, ResultsArea>();
  readonly rules: SubmitRules;
  /** integrity signals, recorded for questions of courses that record them */
  readonly integrity: IntegrityWatch;

  constructor(
    private api: CoursehubAPI,
    private refresh: Refresh,
    private settings: LearnerSettings,
    private openPath: (path: string) => Promise<void>
  ) {
    this.rules = new SubmitRules(api);
    this.integrity = new IntegrityWatch(api, refresh);
    refresh.connect(() => this.rules.reloadAll());
  }

  /**
   * Record integrity signals for `panel`'s notebook (opened at `opened`, ms) if the
   * question's course records them, and say so in its results area. Call once the
   * question's rules (its course) were loaded.
   */
  async watchIntegrity(panel: NotebookPanel, questionId: string, opened: number): Promise<void> {
    const course = this.rules.question(questionId)?.course;
    if (await this.integrity.watch(panel, questionId, course, opened)) {
      this.areas.get(panel)?.setIntegrity(true);
    }
  }

  /**
   * The results area under `panel`'s notebook, created (with the question's last result,
   * its history and hints) the first time.
   */
  area(panel: NotebookPanel, questionId: string): ResultsArea {
    let area = this.areas.get(panel);
    if (area && !area.isDisposed && area.questionId === questionId) {
      return area;
    }
    area?.dispose();
    area = new ResultsArea({
      questionId,
      api: this.api,
      settings: this.settings,
      openPath: this.openPath,
      // the tutor gets the answer cells' code as it is now, saved or not
      answerCode: () => {
        const nb = panel.context.model?.toJSON() as { cells?: unknown[] } | undefined;
        return nb?.cells ? answerCells(nb.cells as Parameters<typeof answerCells>[0]) : null;
      }
    });
    const created = area;
    this.areas.set(panel, area);
    panel.disposed.connect(() => {
      created.dispose();
      this.areas.delete(panel);
    });
    // under the notebook, in the panel's own top-to-bottom box: the notebook keeps
    // its whole width, and one area per notebook is updated in place
    const layout = panel.layout as BoxLayout;
    BoxLayout.setStretch(area, 0);
    layout.addWidget(area);
    void area.load();
    return area;
  }

  /** Save, submit and follow `panel`'s notebook; the results area shows every step. */
  async submit(panel: NotebookPanel): Promise<void> {
    const questionId = questionIdOf(panel);
    if (questionId === null) {
      return;
    }
    const view = this.area(panel, questionId);
    const signal = view.startRun();
    const run = view.run;
    const cancelled = () => run !== view.run || view.isDisposed;
    let state = reduce(INITIAL_STATE, { type: 'save' });
    const show = (next: typeof state) => {
      state = next;
      if (!cancelled()) {
        view.setResult(state);
      }
    };
    show(state);
    try {
      await panel.context.save();
      show(reduce(state, { type: 'submit' }));
      // the course's integrity signals (null: it records none), sizes and times only
      const integrity = this.integrity.signals(panel);
      const created = await this.api.submit(questionId, panel.context.path, integrity);
      show(reduce(state, { type: 'submitted', id: created.id, status: created.status }));
    } catch (e) {
      show(reduce(state, { type: 'failed', message: (e as Error).message }));
      if (e instanceof CoursehubError && e.status === 429 && e.retryAfter !== null) {
        this.rules.coolOff(questionId, e.retryAfter);
      } else if (e instanceof CoursehubError && e.status === 403) {
        void this.rules.load(questionId); // past due, or no submission left
      }
      return;
    }
    // one submission more used, and perhaps a cool-off started
    void this.rules.load(questionId);
    const final = await view.follow(state, signal);
    if (final.phase === 'graded') {
      this.refresh.emit();
    }
  }
}

const SUBMIT_TITLE = 'Submit to coursehub';

/**
 * A toolbar item holding a real <button>, so tests and screen readers find it as is.
 * Disabled while the question's rules refuse a submission, the reason in its title;
 * during a cool-off it counts down to the next submission.
 */
class SubmitButton extends Widget {
  private button: HTMLButtonElement;
  private countdown: HTMLSpanElement;
  private timer: ReturnType<typeof setInterval> | null = null;
  private disconnect: () => void = () => undefined;

  constructor(
    onClick: () => void,
    private rules: SubmitRules,
    private questionId: () => string | null
  ) {
    super();
    this.addClass('jp-Toolbar-item');
    this.addClass('ch-SubmitItem');
    const button = (this.button = document.createElement('button'));
    button.type = 'button';
    button.className = 'jp-ToolbarButtonComponent jp-Button ch-submit';
    button.dataset.testid = 'ch-submit';
    button.title = SUBMIT_TITLE;
    button.appendChild(document.createTextNode('Submit'));
    this.countdown = document.createElement('span');
    this.countdown.className = 'ch-submit-countdown';
    this.countdown.dataset.testid = 'ch-submit-countdown';
    button.appendChild(this.countdown);
    button.addEventListener('click', onClick);
    this.node.appendChild(button);
  }

  /** Follow the question's rules from now on. */
  follow(): void {
    this.disconnect = this.rules.connect(() => this.render());
    this.render();
  }

  dispose(): void {
    this.disconnect();
    this.stopTicking();
    super.dispose();
  }

  private render(): void {
    if (this.isDisposed) {
      return;
    }
    const id = this.questionId();
    const now = Date.now();
    const block = id === null ? null : this.rules.block(id, now);
    this.button.disabled = block !== null;
    this.button.title = block ? block.reason : SUBMIT_TITLE;
    if (block) {
      this.button.dataset.blocked = block.kind;
    } else {
      delete this.button.dataset.blocked;
    }
    const counting = block?.kind === 'cooloff' && block.until !== null;
    this.countdown.textContent = counting ? countdownText((block.until as number) - now) : '';
    if (counting && this.timer === null) {
      this.timer = setInterval(() => this.render(), 1000);
    } else if (!counting) {
      this.stopTicking();
    }
  }

  private stopTicking(): void {
    if (this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }
}

/** Adds the Submit button to notebooks that carry a coursehub question id. */
export class SubmitButtonExtension
  implements DocumentRegistry.IWidgetExtension<NotebookPanel, INotebookModel>
{
  constructor(private submitter: Submitter) {}

  createNew(panel: NotebookPanel, context: DocumentRegistry.IContext<INotebookModel>): Widget {
    const rules = this.submitter.rules;
    const opened = Date.now(); // the time spent on the question counts from here
    const button = new SubmitButton(
      () => void this.submitter.submit(panel),
      rules,
      () => questionIdOf(panel)
    );
    // the metadata is known only once the file is loaded
    context.ready.then(() => {
      if (button.isDisposed) {
        return;
      }
      const questionId = questionIdOf(panel);
      if (questionId === null) {
        button.dispose();
        return;
      }
      // first in the toolbar: a narrow notebook moves the toolbar's last items into
      // its overflow menu, never the first
      if (!panel.toolbar.insertItem(0, 'coursehubSubmit', button)) {
        panel.toolbar.addItem('coursehubSubmit', button);
      }
      button.follow();
      this.submitter.area(panel, questionId);
      void rules
        .load(questionId)
        .then(() => this.submitter.watchIntegrity(panel, questionId, opened));
    });
    return button;
  }
}

export function addSubmitCommand(
  app: JupyterFrontEnd,
  tracker: INotebookTracker,
  submitter: Submitter
): void {
  const current = () => {
    const panel = tracker.currentWidget;
    return panel && questionIdOf(panel) !== null ? panel : null;
  };
  const allowed = () => {
    const questionId = questionIdOf(current());
    return questionId !== null && submitter.rules.block(questionId) === null;
  };
  app.commands.addCommand(SUBMIT_COMMAND, {
    label: 'Submit notebook to coursehub',
    caption: 'Save the current coursehub notebook and submit it for grading',
    isEnabled: allowed,
    execute: async () => {
      const panel = current();
      if (panel && allowed()) {
        await submitter.submit(panel);
      }
    }
  });
  // the palette re-checks isEnabled when the current notebook or the rules change
  tracker.currentChanged.connect(() => app.commands.notifyCommandChanged(SUBMIT_COMMAND));
  submitter.rules.connect(() => app.commands.notifyCommandChanged(SUBMIT_COMMAND));
}
