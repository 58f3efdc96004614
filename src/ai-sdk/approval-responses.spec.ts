import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AppError } from '../common/errors.js';
import { type ApprovalResponse, approvalResponsesOf } from './approval-responses.js';
import type { UiMessageDto } from './dto/ai-sdk.dto.js';

const message = (parts: unknown[]): UiMessageDto => ({ id: 'reply-1', role: 'assistant', parts: parts as Record<string, unknown>[] });
const responded = (toolCallId: unknown, approval: unknown) => ({ type: 'tool-deploy', toolCallId, state: 'approval-responded', input: {}, approval });
const ID = '3fa85f64-5717-4562-b3fc-2c963f66afa6';

/** The responses, or the fields a 400 names; anything else thrown fails the test. */
function outcome(parts: unknown[]): { responses: ApprovalResponse[]; details?: Record<string, string[]> } {
  try {
    return { responses: approvalResponsesOf(message(parts), 1) };
  } catch (error) {
    if (!(error instanceof AppError) || error.getStatus() !== 400) throw error;
    return { responses: [], details: error.details as Record<string, string[]> };
  }
}
const problem = (parts: unknown[]) => outcome(parts).details;

describe('approvalResponsesOf', () => {
  it('reads the answered tool parts and nothing else', () => {
    const parts = [
      { type: 'text', text: 'Checking.' },
      { type: 'tool-calc', toolCallId: 'c0', state: 'output-available', output: 2 },
      { type: 'tool-deploy', toolCallId: 'c1', state: 'approval-requested', approval: { id: ID } },
      responded('c2', { id: ID.toUpperCase(), approved: false, reason: '  Not on a Friday ' }),
      { type: 'dynamic-tool', toolName: 'x', toolCallId: 'c3', state: 'approval-responded', approval: { id: '00000000-0000-4000-8000-000000000000', approved: true, reason: null } },
    ];
    expect(approvalResponsesOf(message(parts), 1)).toEqual([
      { approvalId: ID, toolCallId: 'c2', approved: false, reason: 'Not on a Friday' },
      { approvalId: '00000000-0000-4000-8000-000000000000', toolCallId: 'c3', approved: true },
    ]);
  });

  it('names the field of a bad answer', () => {
    expect(problem([responded('c1', { id: 'nope', approved: true })])).toHaveProperty(['messages.1.parts.0.approval.id']);
    expect(problem([responded('c1', { id: ID, approved: 1 })])).toHaveProperty(['messages.1.parts.0.approval.approved']);
    expect(problem([responded('c1', { id: ID, approved: false, reason: 'x'.repeat(501) })])).toHaveProperty(['messages.1.parts.0.approval.reason']);
    expect(problem([responded('', { id: ID, approved: true })])).toHaveProperty(['messages.1.parts.0.toolCallId']);
    expect(problem([responded('c1', [ID])])).toHaveProperty(['messages.1.parts.0.approval']);
    expect(problem([responded('c1', { id: ID, approved: true }), responded('c1', { id: ID, approved: false })])).toHaveProperty(['messages.1.parts.1.approval.id']);
    expect(problem([responded('c1', { id: ID, approved: true }), responded('c1', { id: ID, approved: true })])).toBeUndefined();
  });

  it('answers every crafted part with its responses or a 400, never anything else', () => {
    const anything = fc.oneof(fc.constant(undefined), fc.constant(null), fc.boolean(), fc.integer(), fc.string({ maxLength: 600 }), fc.uuid(), fc.object({ maxDepth: 2 }));
    const approval = fc.oneof(anything, fc.record({ id: fc.oneof(fc.uuid(), anything), approved: fc.oneof(fc.boolean(), anything), reason: fc.oneof(fc.string({ maxLength: 520 }), anything) }, { requiredKeys: [] }));
    const part = fc.record({
      type: fc.constantFrom('tool-deploy', 'dynamic-tool', 'text', 'step-start'),
      toolCallId: fc.oneof(fc.string({ maxLength: 120 }), anything),
      state: fc.constantFrom('approval-responded', 'approval-requested', 'output-available'),
      approval,
    });
    fc.assert(
      fc.property(fc.array(part, { maxLength: 8 }), (parts) => {
        const { responses, details } = outcome(parts);
        expect(Object.keys(details ?? {}).every((field) => /^messages\.1\.parts\.\d+\./.test(field))).toBe(true);
        for (const response of responses) {
          expect(response.approvalId).toMatch(/^[0-9a-f-]{36}$/);
          expect(typeof response.approved).toBe('boolean');
          expect((response.reason ?? '').length).toBeLessThanOrEqual(500);
        }
        expect(new Set(responses.map((response) => response.approvalId)).size).toBe(responses.length);
      }),
      { numRuns: 500 },
    );
  });
});
