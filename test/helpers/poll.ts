// Waiting for something to become true, for the things a test cannot move with the clock (a process starting, a
// delivery arriving over a real socket, a NOTIFY reaching another runtime).

export interface PollOptions {
  timeoutMs?: number;
  intervalMs?: number;
}

/**
 * Calls `probe` until `done` holds for its answer, or the time is up; answers the last value either way, so
 * that the test's own assertion says what was wrong.
 */
export async function until<T>(probe: () => T | Promise<T>, done: (value: T) => boolean = Boolean, { timeoutMs = 10_000, intervalMs = 25 }: PollOptions = {}): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value) || Date.now() >= deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
