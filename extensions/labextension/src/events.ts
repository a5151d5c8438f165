/** A tiny broadcast: "a submission was graded, reload what shows scores". */
export class Refresh {
  private listeners = new Set<() => void>();

  /** Call `listener` on every emit; returns the function that disconnects it. */
  connect(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(): void {
    for (const listener of [...this.listeners]) {
      listener();
    }
  }
}
