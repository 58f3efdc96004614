import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (value: string | Uint8Array) => createHash('sha256').update(value).digest();

/**
 * Compares what a client presents with a secret in constant time: both sides are hashed first,
 * so the comparison takes the same time whatever the length of what was presented.
 */
export class SecretMatcher {
  private readonly expected: Buffer;

  constructor(secret: string) {
    this.expected = digest(secret);
  }

  matches(presented: string | Uint8Array): boolean {
    return timingSafeEqual(digest(presented), this.expected);
  }
}
