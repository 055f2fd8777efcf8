import { describe, expect, it } from 'vitest';
import { Reloader } from './reloader.js';

describe('Reloader', () => {
  it('runs again when asked during a run, so the caller sees a load that started after its request', async () => {
    const starts: number[] = [];
    let release!: () => void;
    let calls = 0;
    const reloader = new Reloader(async () => {
      starts.push(++calls);
      if (calls === 1) await new Promise<void>((r) => (release = r));
    });
    const first = reloader.run();
    await Promise.resolve();
    const second = reloader.run(); // asked while the first load is still reading
    const third = reloader.run(); // shares the same extra run
    release();
    await Promise.all([first, second, third]);
    expect(starts).toEqual([1, 2]);
  });
});
