/**
 * Multiple-choice, fill-in and flashcard questions rendered as widgets in their
 * notebooks: every notebook gets a QuestionTypeController, which does nothing unless
 * the notebook is a learner's copy of such a question (see controller.tsx).
 */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { DocumentRegistry } from '@jupyterlab/docregistry';
import { INotebookModel, NotebookPanel } from '@jupyterlab/notebook';

import { CoursehubAPI } from '../api';
import { QuestionTypeController } from './controller';

/** Adds the question-type widgets to each notebook, once it is loaded. */
export class QuestionTypesExtension
  implements DocumentRegistry.IWidgetExtension<NotebookPanel, INotebookModel>
{
  constructor(private api: CoursehubAPI) {}

  createNew(
    panel: NotebookPanel,
    context: DocumentRegistry.IContext<INotebookModel>
  ): QuestionTypeController {
    const controller = new QuestionTypeController(panel, this.api);
    // the metadata is known only once the file is loaded
    void context.ready.then(() => controller.start());
    return controller;
  }
}

export const questionTypesPlugin: JupyterFrontEndPlugin<void> = {
  id: '@coursehub/labextension:question-types',
  description: 'Choices, blanks and flashcards as widgets in question notebooks.',
  autoStart: true,
  activate: (app: JupyterFrontEnd) => {
    app.docRegistry.addWidgetExtension('Notebook', new QuestionTypesExtension(new CoursehubAPI()));
  }
};
