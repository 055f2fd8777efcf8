// The signing keys' metrics: how old the key in use is (rotation is due every KEY_ROTATION_INTERVAL; an age past
// it says rotation stopped), and how many keys are published by state.
import { Gauge, type Registry } from 'prom-client';
import type { Clock } from '../clock.js';
import type { Keyring } from './keyring.js';

export function keyMetrics(registry: Registry, keyring: Keyring, clock: Clock): void {
  new Gauge({
    name: 'tessera_signing_key_age_seconds',
    help: 'Seconds since the signing key in use became active',
    registers: [registry],
    collect() {
      const since = keyring.activeKeySince();
      if (since !== null) this.set((clock.now() - since) / 1000);
    },
  });
  new Gauge({
    name: 'tessera_signing_keys',
    help: 'Signing keys published in JWKS, by state (next, active, retired)',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      for (const [state, count] of Object.entries(keyring.keyCounts())) this.set({ state }, count);
    },
  });
}
