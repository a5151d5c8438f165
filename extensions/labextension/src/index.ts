/**
 * coursehub in JupyterLab: the Course sidebar, the course page (opened the first time,
 * from a launcher card and from the sidebar), the Submit button and command, and the
 * results area under each question's notebook.
 * Talks only to the coursehub server extension of this Jupyter server.
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { ILauncher } from '@jupyterlab/launcher';
import { INotebookTracker } from '@jupyterlab/notebook';

import { CoursehubAPI } from './api';
import { chooseCourse } from './courses';
import { Refresh } from './events';
import { homeShownKey, shouldOpenHome } from './home';
import { CourseHome } from './homeWidget';
import { LearnerSettings } from './learner';
import { coursehubIcon, CoursehubPanel, storedCourse } from './panel';
import { SUBMIT_COMMAND, SubmitButtonExtension, Submitter, addSubmitCommand } from './submit';
import { gradedSubmissions, practicePlugin } from './practice/plugin';
import { questionTypesPlugin } from './questiontypes/plugin';

/** The id of nbgrader's Create Assignment sidebar widget (its own spelling). */
const CREATE_ASSIGNMENT_ID = 'nbgrader-create_assignemnt';

export const HOME_COMMAND = 'coursehub:open-home';

function browserStorage(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: '@coursehub/labextension:plugin',
  description: 'Browse coursehub questions, submit notebooks, see results and rankings.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ICommandPalette, ILayoutRestorer, ILauncher],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    launcher: ILauncher | null
  ) => {
    const api = new CoursehubAPI();
    const refresh = new Refresh();
    refresh.connect(() => gradedSubmissions.emit()); // the Practice sidebar reloads too
    const settings = new LearnerSettings(api);

    const openPath = async (path: string) => {
      await app.commands.execute('docmanager:open', { path });
    };
    const openQuestion = async (question: { id: number | string }) =>
      openPath((await api.open(question.id)).path);
    const submitter = new Submitter(api, refresh, settings, openPath);

    let home: CourseHome | null = null;
    const showPanel = () => app.shell.activateById(panel.id);
    const showHome = () => {
      if (!home || home.isDisposed) {
        home = new CourseHome({
          api,
          refresh,
          chosenCourse: storedCourse,
          openQuestion,
          showPanel
        });
        app.shell.add(home, 'main');
      }
      app.shell.activateById(home.id);
    };

    const panel = new CoursehubPanel({
      api,
      refresh,
      openQuestion,
      tracker,
      openPath,
      settings,
      showHome,
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

    app.commands.addCommand(HOME_COMMAND, {
      label: 'Course home',
      caption: 'Your course: modules, progress and what to do next',
      icon: coursehubIcon,
      execute: showHome
    });
    launcher?.add({ command: HOME_COMMAND, category: 'coursehub', rank: 0 });
    palette?.addItem({ command: HOME_COMMAND, category: 'coursehub' });

    app.docRegistry.addWidgetExtension('Notebook', new SubmitButtonExtension(submitter));
    addSubmitCommand(app, tracker, submitter);
    palette?.addItem({ command: SUBMIT_COMMAND, category: 'coursehub' });

    // the first time a learner with a course opens JupyterLab: the course page
    void app.restored.then(async () => {
      const storage = browserStorage();
      let courses;
      try {
        courses = await api.courses();
      } catch {
        return; // the grader is down: the panel says so
      }
      const course = chooseCourse(courses, storedCourse());
      if (course && storage && shouldOpenHome(storage, course.slug)) {
        showHome();
        try {
          storage.setItem(homeShownKey(course.slug), new Date().toISOString());
        } catch {
          // storage full or denied: it opens again next time, no harm
        }
      }
    });
  }
};

export default [plugin, questionTypesPlugin, practicePlugin];
