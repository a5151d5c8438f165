/**
 * The learner's own settings (celebrations on or off), read once from their profile and
 * replaced when the Profile tab saves them; shared by the panel and the results areas.
 */
import { CoursehubAPI } from './api';
import { ILearnerSettings } from './types';

export class LearnerSettings {
  private value: ILearnerSettings | null = null;
  private loading: Promise<ILearnerSettings> | null = null;

  constructor(private api: CoursehubAPI) {}

  /** The settings saved in the profile ({} when they cannot be read: the defaults). */
  get(course: string): Promise<ILearnerSettings> {
    if (this.value) {
      return Promise.resolve(this.value);
    }
    if (!this.loading) {
      this.loading = this.api.profile(course).then(
        p => (this.value = p.private?.settings ?? {}),
        () => {
          this.loading = null; // try again next time
          return {};
        }
      );
    }
    return this.loading;
  }

  set(settings: ILearnerSettings): void {
    this.value = settings;
  }
}
