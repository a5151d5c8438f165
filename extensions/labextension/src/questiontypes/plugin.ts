/**
 * Multiple-choice, fill-in and flashcard questions rendered as widgets in their
 * notebooks (being built).
 */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';

export const questionTypesPlugin: JupyterFrontEndPlugin<void> = {
  id: '@coursehub/labextension:question-types',
  description: 'Choices, blanks and flashcards as widgets in question notebooks.',
  autoStart: true,
  activate: (app: JupyterFrontEnd) => {
    void app;
  }
};
