/**
 * Duels as they change, for the views and the notifications: a pushed duel goes to
 * every listener, and says what it is worth telling, once per status (a replay after a
 * reconnection, or a duel the panel already showed, tells nothing again). No JupyterLab
 * import, so it is unit-tested.
 */
import { duelNotice, IDuelNotice } from './duels';
import { IDuel } from './types';

export class DuelFeed {
  private listeners = new Set<(duel: IDuel) => void>();
  /** the last status known of each duel, by id */
  private known = new Map<number, string>();

  /** Call `listener` with every pushed duel; returns the function that disconnects it. */
  connect(listener: (duel: IDuel) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A duel pushed by the grader: tell the listeners; the notice it deserves, or null. */
  push(duel: IDuel): IDuelNotice | null {
    const previous = this.known.get(duel.id) ?? null;
    this.known.set(duel.id, duel.status);
    for (const listener of [...this.listeners]) {
      listener(duel);
    }
    return duelNotice(previous, duel);
  }

  /**
   * Duels a view loaded: those never seen before are known from now on (a later push
   * of the same status is no news). A duel already known keeps its status: a change the
   * view happened to load first still gets its notice when its push arrives.
   */
  seen(duels: IDuel[]): void {
    for (const duel of duels) {
      if (!this.known.has(duel.id)) {
        this.known.set(duel.id, duel.status);
      }
    }
  }
}
