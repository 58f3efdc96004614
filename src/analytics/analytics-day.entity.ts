import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';
import type { BucketSummary } from './bucket-summary.js';

/**
 * The analytics of one closed UTC day, computed once (the first time a range asks for it) and
 * read from here after: what happened that day does not change once the day is over, and reading
 * a day's messages again for every range would not stay fast past a few hundred thousand. The
 * distinct authors and conversations are kept so that a range can count each once.
 */
@Entity('analytics_days')
export class AnalyticsDayEntity {
  /** YYYY-MM-DD, UTC. */
  @PrimaryColumn({ type: 'date', primaryKeyConstraintName: 'analytics_days_pkey' })
  day!: string;

  @Column({ type: 'jsonb' })
  summary!: BucketSummary;

  @Column({ name: 'author_ids', type: 'uuid', array: true })
  authorIds!: string[];

  @Column({ name: 'conversation_ids', type: 'uuid', array: true })
  conversationIds!: string[];

  @CreateDateColumn({ name: 'computed_at', type: 'timestamptz' })
  computedAt!: Date;
}
