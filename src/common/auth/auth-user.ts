import type { UserRole } from '../../users/user.entity.js';

/** The authenticated caller, as put on the request (HTTP) or on `socket.data` (Socket.IO). */
export interface AuthUser {
  id: string;
  email: string;
  displayName: string;
  role: UserRole;
  /** The session (one sign-in) the access token was issued for. */
  sessionId: string;
  /** When the access token expires (ms since the epoch): long-lived connections end then. */
  expiresAt: number;
}

/** Why a session ended, as told to its clients in `session:expired` (`revoked`: ended before reasons were kept). */
export type SessionEndReason = 'logout' | 'logout-all' | 'password-changed' | 'refresh-reuse' | 'account-deleted' | 'revoked';

/** `session:expired` also closes a connection whose access token expired. */
export type SessionExpiredReason = SessionEndReason | 'expired';
