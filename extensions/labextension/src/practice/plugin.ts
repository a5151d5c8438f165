/**
 * The Practice sidebar: reviews due, the daily question, learning paths, quizzes and
 * duels (being built).
 */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';

export const practicePlugin: JupyterFrontEndPlugin<void> = {
  id: '@coursehub/labextension:practice',
  description: 'Practice: reviews, the daily question, paths, quizzes and duels.',
  autoStart: true,
  activate: (app: JupyterFrontEnd) => {
    void app;
  }
};
