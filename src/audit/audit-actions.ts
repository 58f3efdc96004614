/** Every action the audit trail records; the column holds one of these (and the OpenAPI enum lists them). */
export const AUDIT_ACTIONS = [
  'auth.login',
  'auth.login_failed',
  'auth.logout',
  'auth.logout_all',
  'auth.password_changed',
  'account.deleted',
  'participant.added',
  'participant.removed',
  'participant.role_changed',
  'user.role_changed',
  'approval.approved',
  'approval.denied',
  'approval.expired',
  'tool.executed',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export const AUDIT_TARGET_TYPES = ['user', 'session', 'conversation', 'approval', 'run'] as const;
export type AuditTargetType = (typeof AUDIT_TARGET_TYPES)[number];
