// Comparing secrets (codes, CSRF tokens, PKCE challenges) in constant time.
import { timingSafeEqual } from 'node:crypto';

export function equalSecrets(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
