// Tests that need Redis run where one listens on 127.0.0.1:6379 and are skipped elsewhere.
import { Socket } from 'node:net';

export const TEST_REDIS_URL = 'redis://127.0.0.1:6379/0';

/** Whether something accepts connections on Redis's port, answered within half a second. */
export function redisAvailable(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.setTimeout(500);
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
    socket.connect(6379, '127.0.0.1');
  });
}
