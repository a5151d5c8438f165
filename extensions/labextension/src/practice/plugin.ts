/**
 * The Practice sidebar: reviews due, the daily question, learning paths, quizzes and
 * duels; and the learner's push channel (the grader's events), whose duel changes
 * update the sidebar at once and are told in a notification.
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { Notification } from '@jupyterlab/apputils';

import { Refresh } from '../events';
import { PracticeAPI } from './api';
import { duelOfEvent } from './duels';
import { DuelFeed } from './feed';
import { FreshCopies } from './opener';
import { PracticePanel } from './panel';
import { EventChannel } from './stream';

/**
 * Every graded submission of this JupyterLab page: the main plugin's Submitter emits
 * its own Refresh, which index.ts relays here (`refresh.connect(() =>
 * gradedSubmissions.emit())`), so the sidebar reloads scores, reviews and streaks.
 */
export const gradedSubmissions = new Refresh();

/** How long a duel's notification stays up, ms. */
const NOTICE_MS = 8000;

export const practicePlugin: JupyterFrontEndPlugin<void> = {
  id: '@coursehub/labextension:practice',
  description: 'Practice: reviews, the daily question, paths, quizzes and duels.',
  autoStart: true,
  optional: [ILayoutRestorer],
  activate: (app: JupyterFrontEnd, restorer: ILayoutRestorer | null) => {
    const api = new PracticeAPI();
    const refresh = new Refresh();
    gradedSubmissions.connect(() => refresh.emit());
    const feed = new DuelFeed();

    const openPath = async (path: string) => {
      await app.commands.execute('docmanager:open', { path });
    };
    const copies = new FreshCopies(id => api.openFresh(id), openPath);
    const panel = new PracticePanel({
      api,
      refresh,
      feed,
      openQuestion: async id => openPath((await api.open(id)).path),
      openFresh: (key, id, first) => copies.open(key, id, first)
    });
    // just below the Course sidebar (rank 200)
    app.shell.add(panel, 'left', { rank: 210 });
    restorer?.add(panel, 'coursehub-practice');

    const channel = new EventChannel({
      openStream: (lastEventId, signal) => api.events(lastEventId, signal),
      onEvent: message => {
        const duel = duelOfEvent(message);
        if (!duel) {
          return; // other kinds (achievements...) are for other views
        }
        const notice = feed.push(duel);
        if (notice) {
          Notification.emit(notice.text, notice.level, {
            autoClose: NOTICE_MS,
            actions: [
              {
                label: 'Show duels',
                callback: () => app.shell.activateById(panel.id)
              }
            ]
          });
        }
      }
    });
    void app.restored.then(() => channel.start());
    panel.disposed.connect(() => void channel.stop());
  }
};
