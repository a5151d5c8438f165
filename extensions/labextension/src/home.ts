/**
 * Pure helpers of the course page: what to do next, the modules with their progress,
 * whether the page opens by itself. No JupyterLab import, so they are unit-tested.
 */
import { groupByModule } from './format';
import { IModule, IModuleProgress, IQuestion } from './types';

/**
 * The first question to work on: the first unsolved released question, in the modules'
 * order (then the questions' order within a module); null when all are solved.
 */
export function nextQuestion(modules: IModule[], questions: IQuestion[]): IQuestion | null {
  const open = questions.filter(q => !q.solved && (q.status ?? 'released') === 'released');
  for (const section of groupByModule(modules, open)) {
    return section.questions[0];
  }
  return null;
}

export interface IModuleSummary {
  module: IModule;
  solved: number;
  total: number;
  percent: number;
}

/** The modules in order, each with its progress (none yet: 0 of its questions). */
export function moduleSummaries(
  modules: IModule[],
  progress: IModuleProgress[],
  questions: IQuestion[]
): IModuleSummary[] {
  const byId = new Map(progress.map(p => [String(p.module), p]));
  return modules.map(module => {
    const p = byId.get(String(module.id));
    if (p) {
      return { module, solved: p.solved, total: p.total, percent: p.percent };
    }
    const mine = questions.filter(q => String(q.module) === String(module.id));
    const solved = mine.filter(q => q.solved).length;
    return {
      module,
      solved,
      total: mine.length,
      percent: mine.length ? (100 * solved) / mine.length : 0
    };
  });
}

/** Where "the course page was shown" is remembered, per course. */
export function homeShownKey(course: string): string {
  return `coursehub:home-shown:${course}`;
}

/** Whether the course page opens by itself: the first time a learner is in a course. */
export function shouldOpenHome(storage: Pick<Storage, 'getItem'> | null, course: string): boolean {
  if (!storage) {
    return false; // no memory: never open it at every start
  }
  try {
    return storage.getItem(homeShownKey(course)) === null;
  } catch {
    return false;
  }
}

/** "3-day streak", "1-day streak", or '' with no streak. */
export function streakText(days: number | null | undefined): string {
  return days && days > 0 ? `${days}-day streak` : '';
}
