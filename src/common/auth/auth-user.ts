import type { UserRole } from '../../users/user.entity.js';

/** The authenticated caller, as put on the request (HTTP) or on `socket.data` (Socket.IO). */
export interface AuthUser {
  id: string;
  email: string;
  displayName: string;
  role: UserRole;
  /** The refresh-token family (one sign-in) the access token was issued for. */
  sessionId: string;
}
