import { createHash, randomBytes } from 'node:crypto';

const OPAQUE_TOKEN_BYTES = 32;

/** What an opaque token looks like: 256 random bits, base64url without padding. */
export const OPAQUE_TOKEN_FORMAT = /^[A-Za-z0-9_-]{43}$/;

/** A new unguessable bearer value (refresh token, stream ticket): shown once, stored only hashed. */
export function newOpaqueToken(): string {
  return randomBytes(OPAQUE_TOKEN_BYTES).toString('base64url');
}

/** What is stored and looked up instead of the token itself, so a read of the table grants nothing. */
export function hashOpaqueToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
