// Subscriptions' signing secrets, sealed at rest under SECRETS_KEY (bound to their subscription) and opened once:
// a secret never changes under the same ciphertext, so the opened value is kept by its sealed form.
import { LRUCache } from 'lru-cache';
import type { SecretBox } from '../secret-box.js';

export interface SealedSecrets {
  id: string;
  secretSealed: string;
  previousSecretSealed: string | null;
  previousSecretExpiresAt: Date | null;
}

export class SigningSecrets {
  private readonly opened = new LRUCache<string, string>({ max: 10_000 });

  constructor(private readonly box: SecretBox) {}

  seal(webhookId: string, secret: string): string {
    return this.box.seal(secret, `webhook:${webhookId}`);
  }

  private open(sealed: string, webhookId: string): string {
    let secret = this.opened.get(sealed);
    if (secret === undefined) {
      secret = this.box.open(sealed, `webhook:${webhookId}`);
      this.opened.set(sealed, secret);
    }
    return secret;
  }

  /** The secrets that sign a delivery at `now`: the current one, and the previous one while it overlaps. */
  live(subscription: SealedSecrets, now: Date): string[] {
    const secrets = [this.open(subscription.secretSealed, subscription.id)];
    if (subscription.previousSecretSealed && subscription.previousSecretExpiresAt && subscription.previousSecretExpiresAt > now) {
      secrets.push(this.open(subscription.previousSecretSealed, subscription.id));
    }
    return secrets;
  }
}
