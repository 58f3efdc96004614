import { fieldError } from '../common/errors.js';
import { REASON_MAX } from '../approvals/dto/approval.dto.js';
import type { UiMessageDto } from './dto/ai-sdk.dto.js';

/** A person's answer to a tool call waiting for approval, as useChat's `addToolApprovalResponse` records it. */
export interface ApprovalResponse {
  approvalId: string;
  toolCallId: string;
  approved: boolean;
  reason?: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_TOOL_CALL_ID = 100;

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** A tool part: `tool-<name>` (a tool the client knows) or `dynamic-tool`. */
function isToolPart(part: Record<string, unknown>): boolean {
  return typeof part.type === 'string' && (part.type.startsWith('tool-') || part.type === 'dynamic-tool');
}

/** One `approval-responded` tool part as a response; a 400 naming the field when it is not a valid one. */
function responseOf(part: Record<string, unknown>, path: string): ApprovalResponse {
  const { toolCallId, approval } = part;
  if (typeof toolCallId !== 'string' || toolCallId.length < 1 || toolCallId.length > MAX_TOOL_CALL_ID) {
    throw fieldError(`${path}.toolCallId`, `must be a string of 1 to ${MAX_TOOL_CALL_ID} characters`);
  }
  if (!isObject(approval)) throw fieldError(`${path}.approval`, 'must be an object with id and approved');
  const { id, approved, reason } = approval;
  if (typeof id !== 'string' || !UUID.test(id)) throw fieldError(`${path}.approval.id`, 'must be the UUID of an approval');
  if (typeof approved !== 'boolean') throw fieldError(`${path}.approval.approved`, 'must be a boolean');
  if (reason !== undefined && reason !== null && (typeof reason !== 'string' || reason.length > REASON_MAX)) {
    throw fieldError(`${path}.approval.reason`, `must be a string of at most ${REASON_MAX} characters`);
  }
  const trimmed = typeof reason === 'string' ? reason.trim() : '';
  return { approvalId: id.toLowerCase(), toolCallId, approved, ...(trimmed && { reason: trimmed }) };
}

/**
 * The approval responses an assistant message carries: its tool parts in state
 * `approval-responded`, each checked strictly (the rest of the message is the client's copy of
 * what the server sent, not read). One approval answered twice must be answered the same way.
 */
export function approvalResponsesOf(message: UiMessageDto, index: number): ApprovalResponse[] {
  const responses = new Map<string, ApprovalResponse>();
  for (const [partIndex, part] of message.parts.entries()) {
    if (!isToolPart(part) || part.state !== 'approval-responded') continue;
    const path = `messages.${index}.parts.${partIndex}`;
    const response = responseOf(part, path);
    const earlier = responses.get(response.approvalId);
    if (earlier && (earlier.approved !== response.approved || earlier.toolCallId !== response.toolCallId)) {
      throw fieldError(`${path}.approval.id`, 'answers an approval that another part answers differently');
    }
    responses.set(response.approvalId, earlier ?? response);
  }
  return [...responses.values()];
}
