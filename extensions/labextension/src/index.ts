/**
 * coursehub in JupyterLab: the sidebar panel, the Submit button and command.
 * Talks only to the coursehub server extension of this Jupyter server.
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';

import { CoursehubAPI } from './api';
import { Refresh } from './events';
import { CoursehubPanel } from './panel';
import { SUBMIT_COMMAND, SubmitButtonExtension, Submitter, addSubmitCommand } from './submit';

/** The id of nbgrader's Create Assignment sidebar widget (its own spelling). */
const CREATE_ASSIGNMENT_ID = 'nbgrader-create_assignemnt';

const plugin: JupyterFrontEndPlugin<void> = {
  id: '@coursehub/labextension:plugin',
  description: 'Browse coursehub questions, submit notebooks, see results and rankings.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ICommandPalette, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null
  ) => {
    const api = new CoursehubAPI();
    const refresh = new Refresh();
    const submitter = new Submitter(app, api, refresh);

    const openPath = async (path: string) => {
      await app.commands.execute('docmanager:open', { path });
    };
    const panel = new CoursehubPanel({
      api,
      refresh,
      openQuestion: async question => openPath((await api.open(question.id)).path),
      tracker,
      openPath,
      showCreateAssignment: () => {
        // nbgrader's sidebar, in instructors' JupyterLab only (jupyter-config/coursehub-instructor)
        for (const widget of app.shell.widgets('right')) {
          if (widget.id === CREATE_ASSIGNMENT_ID) {
            app.shell.activateById(widget.id);
            return true;
          }
        }
        return false;
      }
    });
    app.shell.add(panel, 'left', { rank: 200 });
    restorer?.add(panel, 'coursehub-panel');

    app.docRegistry.addWidgetExtension('Notebook', new SubmitButtonExtension(submitter));
    addSubmitCommand(app, tracker, submitter);
    palette?.addItem({ command: SUBMIT_COMMAND, category: 'coursehub' });
  }
};

export default plugin;
