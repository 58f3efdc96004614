import { Check, Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, type Relation } from 'typeorm';
import { RunEntity } from './run.entity.js';

export const TOOL_INVOCATION_STATUSES = ['started', 'completed', 'failed'] as const;
export type ToolInvocationStatus = (typeof TOOL_INVOCATION_STATUSES)[number];

/** The record of one tool call made during a run: arguments, result, timing. */
@Entity('tool_invocations')
@Index('tool_invocations_run_id_idx', ['runId', 'startedAt'])
@Check('tool_invocations_status_check', `"status" IN ('started', 'completed', 'failed')`)
export class ToolInvocationEntity {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'tool_invocations_pkey' })
  id!: string;

  @Column({ name: 'run_id', type: 'uuid' })
  runId!: string;

  @ManyToOne(() => RunEntity, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'run_id', foreignKeyConstraintName: 'tool_invocations_run_id_fkey' })
  run?: Relation<RunEntity>;

  /** The provider's id of the call, echoed back with the result. */
  @Column({ name: 'call_id', type: 'varchar', length: 100 })
  callId!: string;

  @Column({ type: 'varchar', length: 64 })
  name!: string;

  @Column({ type: 'jsonb', default: {} })
  arguments!: unknown;

  @Column({ type: 'jsonb', nullable: true })
  result!: unknown;

  @Column({ type: 'varchar', length: 16, default: 'started' })
  status!: ToolInvocationStatus;

  @Column({ type: 'text', nullable: true })
  error!: string | null;

  @Column({ name: 'started_at', type: 'timestamptz', default: () => 'now()' })
  startedAt!: Date;

  @Column({ name: 'finished_at', type: 'timestamptz', nullable: true })
  finishedAt!: Date | null;

  @Column({ name: 'duration_ms', type: 'integer', nullable: true })
  durationMs!: number | null;
}
