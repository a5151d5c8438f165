/**
 * Fresh copies of questions (a review, a duel): written once per occasion, reopened
 * after. The first time, `first` (e.g. starting the review's clock) runs between the
 * copy being written and being shown; if it fails the copy is still shown, then the
 * failure is reported. No JupyterLab import, so it is unit-tested.
 */
import { IOpenResult } from '../types';

export class FreshCopies {
  /** the path of each occasion's copy, by key */
  private paths = new Map<string, string>();

  constructor(
    private writeFresh: (questionId: number) => Promise<IOpenResult>,
    private show: (path: string) => Promise<void>
  ) {}

  /** Whether `key`'s copy was written already (in this JupyterLab page). */
  has(key: string): boolean {
    return this.paths.has(key);
  }

  async open(key: string, questionId: number, first?: () => Promise<unknown>): Promise<void> {
    const known = this.paths.get(key);
    if (known !== undefined) {
      await this.show(known);
      return;
    }
    const { path } = await this.writeFresh(questionId);
    this.paths.set(key, path);
    let failure: unknown = null;
    if (first) {
      try {
        await first();
      } catch (e) {
        failure = e;
      }
    }
    await this.show(path);
    if (failure !== null) {
      throw failure;
    }
  }
}
