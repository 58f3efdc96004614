import { HttpStatus } from '@nestjs/common';
import { AppError, ErrorCode } from '../common/errors.js';
import type { LimitSettings } from '../config/limits.config.js';
import type { DocumentUsage } from './documents.repository.js';

export type QuotaScope = 'user' | 'conversation';

export type QuotaUsage = Record<QuotaScope, DocumentUsage>;

const WHOSE: Record<QuotaScope, string> = { user: 'Your documents', conversation: "This conversation's documents" };

/**
 * A 409: the request is well-formed and of an acceptable size, but the library or conversation it
 * goes to is full, a state of theirs that deleting documents resolves. Not 413, which says this
 * file is too large for any library; not 507, a server error that clients and proxies retry.
 */
export function storageQuotaExceeded(scope: QuotaScope, limit: DocumentUsage, used: DocumentUsage): AppError {
  return new AppError(
    HttpStatus.CONFLICT,
    ErrorCode.STORAGE_QUOTA_EXCEEDED,
    `${WHOSE[scope]} would exceed the storage quota (${used.documents} of ${limit.documents} documents, ${used.bytes} of ${limit.bytes} bytes used): delete some to make room`,
    { scope, quota: limit, used },
  );
}

export function quotaLimits(limits: LimitSettings): QuotaUsage {
  return {
    user: { bytes: limits.documentQuotaBytesPerUser, documents: limits.documentsPerUser },
    conversation: { bytes: limits.documentQuotaBytesPerConversation, documents: limits.documentsPerConversation },
  };
}

/**
 * Why one more document of `bytes` does not fit, the user's quota first, or undefined if it fits.
 * The conversation's quota applies only to an upload to a conversation.
 */
export function quotaRefusal(limits: QuotaUsage, usage: QuotaUsage, bytes: number, inConversation: boolean): AppError | undefined {
  const scopes: QuotaScope[] = inConversation ? ['user', 'conversation'] : ['user'];
  for (const scope of scopes) {
    const limit = limits[scope];
    const used = usage[scope];
    if (used.documents + 1 > limit.documents || used.bytes + bytes > limit.bytes) return storageQuotaExceeded(scope, limit, used);
  }
  return undefined;
}
