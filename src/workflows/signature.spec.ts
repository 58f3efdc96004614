import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { verifySignature } from '../../test/fixtures/webhook-receiver.js';
import { signatureOf } from './signature.js';

describe('signatureOf', () => {
  it('is the hex HMAC-SHA256 of the body, as published test vectors give it', () => {
    // RFC 4231, test case 2.
    expect(signatureOf('Jefe', Buffer.from('what do ya want for nothing?'))).toBe('sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  });

  it('verifies on the receiver side over the raw bytes, and only with the same secret and bytes', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 16 }), fc.string({ minLength: 16 }), fc.uint8Array({ minLength: 1, maxLength: 512 }), fc.nat(), (secret, other, bytes, at) => {
        const body = Buffer.from(bytes);
        const header = signatureOf(secret, body);
        expect(header).toMatch(/^sha256=[0-9a-f]{64}$/);
        expect(verifySignature(secret, body, header)).toBe(true);
        expect(verifySignature(other, body, header)).toBe(other === secret);
        const tampered = Buffer.from(body);
        tampered[at % tampered.length]! ^= 1;
        expect(verifySignature(secret, tampered, header)).toBe(false);
      }),
    );
  });

  it('signs the UTF-8 bytes sent, so a body with non-ASCII text verifies as the receiver reads it', () => {
    const body = Buffer.from(JSON.stringify({ input: { title: 'Café ☕ 𝄞' } }), 'utf8');
    expect(verifySignature('a-secret-of-16-chars', body, signatureOf('a-secret-of-16-chars', body))).toBe(true);
    expect(verifySignature('a-secret-of-16-chars', Buffer.from(body.toString('latin1'), 'utf8'), signatureOf('a-secret-of-16-chars', body))).toBe(false);
  });
});
