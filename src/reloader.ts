/**
 * Runs `load` now, or, when a run is already under way, once more after it: a change that commits while
 * a reload is reading is never missed, and concurrent requests share one extra run.
 */
export class Reloader {
  private running?: Promise<void>;
  private again = false;

  constructor(private readonly load: () => Promise<void>) {}

  run(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          await this.load();
        } while (this.again);
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }
}
