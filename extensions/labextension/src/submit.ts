/**
 * Submitting a coursehub notebook: the toolbar button, the command, and the flow
 * save -> POST submit -> follow (event stream, else polling) -> results view -> refresh
 * the panel.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { DocumentRegistry } from '@jupyterlab/docregistry';
import { INotebookModel, INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { Widget } from '@lumino/widgets';

import { CoursehubAPI } from './api';
import { Refresh } from './events';
import { followSubmission, INITIAL_STATE, reduce } from './results';
import { ResultsWidget } from './resultsWidget';

export const SUBMIT_COMMAND = 'coursehub:submit';

/** The notebook's `metadata.coursehub.question_id`, or null for other notebooks. */
export function questionIdOf(panel: NotebookPanel | null | undefined): string | null {
  const meta = panel?.model?.getMetadata('coursehub') as { question_id?: unknown } | undefined;
  const id = meta?.question_id;
  return id === undefined || id === null || id === '' ? null : String(id);
}

const sleep = (ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms));

export class Submitter {
  private views = new Map<string, ResultsWidget>();

  constructor(
    private app: JupyterFrontEnd,
    private api: CoursehubAPI,
    private refresh: Refresh
  ) {}

  /** Save, submit and follow `panel`'s notebook; the results view shows every step. */
  async submit(panel: NotebookPanel): Promise<void> {
    const questionId = questionIdOf(panel);
    if (questionId === null) {
      return;
    }
    const view = this.view(questionId, panel);
    const signal = view.startRun();
    const run = view.run;
    const cancelled = () => run !== view.run || view.isDisposed;
    let state = reduce(INITIAL_STATE, { type: 'save' });
    const show = (next: typeof state) => {
      state = next;
      if (!cancelled()) {
        view.setState(state);
      }
    };
    show(state);
    try {
      await panel.context.save();
      show(reduce(state, { type: 'submit' }));
      const created = await this.api.submit(questionId, panel.context.path);
      show(reduce(state, { type: 'submitted', id: created.id, status: created.status }));
    } catch (e) {
      show(reduce(state, { type: 'failed', message: (e as Error).message }));
      return;
    }
    const final = await followSubmission(state, {
      openStream: id => this.api.submissionEvents(id, signal),
      fetch: id => this.api.submission(id),
      sleep,
      update: show,
      cancelled
    });
    if (final.phase === 'graded') {
      this.refresh.emit();
    }
  }

  /** The question's results view, created (beside the notebook) or revealed. */
  private view(questionId: string, panel: NotebookPanel): ResultsWidget {
    let view = this.views.get(questionId);
    if (!view || view.isDisposed) {
      view = new ResultsWidget(questionId, panel.context.localPath.replace(/\.ipynb$/, ''));
      const created = view;
      this.views.set(questionId, view);
      view.disposed.connect(() => this.views.delete(questionId));
      this.api.question(questionId).then(
        q => created.setQuestionTitle(q.title),
        () => undefined // keep the file name as the title
      );
    }
    if (!view.isAttached) {
      this.app.shell.add(view, 'main', { mode: 'split-right', ref: panel.id });
    }
    this.app.shell.activateById(view.id);
    return view;
  }
}

/** A toolbar item holding a real <button>, so tests and screen readers find it as is. */
class SubmitButton extends Widget {
  constructor(onClick: () => void) {
    super();
    this.addClass('jp-Toolbar-item');
    this.addClass('ch-SubmitItem');
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'jp-ToolbarButtonComponent jp-Button jp-mod-minimal ch-submit';
    button.dataset.testid = 'ch-submit';
    button.title = 'Submit to coursehub';
    button.textContent = 'Submit';
    button.addEventListener('click', onClick);
    this.node.appendChild(button);
  }
}

/** Adds the Submit button to notebooks that carry a coursehub question id. */
export class SubmitButtonExtension
  implements DocumentRegistry.IWidgetExtension<NotebookPanel, INotebookModel>
{
  constructor(private submitter: Submitter) {}

  createNew(panel: NotebookPanel, context: DocumentRegistry.IContext<INotebookModel>): Widget {
    const button = new SubmitButton(() => void this.submitter.submit(panel));
    // the metadata is known only once the file is loaded
    context.ready.then(() => {
      if (button.isDisposed) {
        return;
      }
      if (questionIdOf(panel) === null) {
        button.dispose();
      } else if (!panel.toolbar.insertAfter('cellType', 'coursehubSubmit', button)) {
        panel.toolbar.addItem('coursehubSubmit', button);
      }
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
  app.commands.addCommand(SUBMIT_COMMAND, {
    label: 'Submit notebook to coursehub',
    caption: 'Save the current coursehub notebook and submit it for grading',
    isEnabled: () => current() !== null,
    execute: async () => {
      const panel = current();
      if (panel) {
        await submitter.submit(panel);
      }
    }
  });
  // the palette re-checks isEnabled when the current notebook changes
  tracker.currentChanged.connect(() => app.commands.notifyCommandChanged(SUBMIT_COMMAND));
}
