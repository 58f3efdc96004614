import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager, In } from 'typeorm';
import { batchedRead, type GroupCommit } from '../database/group-commit.js';
import { runStatement, type Statement } from '../database/prepared-statements.js';
import { rowsOf } from '../database/query-rows.js';
import { ConversationEntity } from './conversation.entity.js';
import type { ConversationView, ParticipantView } from './conversation.view.js';
import { type ParticipantRole, ParticipantEntity } from './participant.entity.js';

export interface NewConversation {
  ownerId: string;
  title: string;
  agentMode: ConversationEntity['agentMode'];
  agentProvider: string | null;
  agentModel: string | null;
  agentSystemPrompt: string | null;
  agentTools: string[] | null;
}

export interface ListFilter {
  limit: number;
  archived: boolean;
  q?: string;
  /** Keyset position: strictly older than this (activity timestamp as text, id). */
  after?: { activity: string; id: string };
}

interface ViewRow {
  /** The position of the id asked for (see VIEWS). */
  ord: string;
  id: string;
  title: string;
  owner_id: string;
  agent_mode: ConversationEntity['agentMode'];
  agent_provider: string | null;
  agent_model: string | null;
  agent_system_prompt: string | null;
  agent_tools: string[] | null;
  last_seq: number;
  version: string;
  last_message_at: Date | null;
  created_at: Date;
  updated_at: Date;
  participants: { userId: string; role: ParticipantRole; lastReadSeq: number; pinned: boolean; archived: boolean; joinedAt: string }[];
}

type ConversationSettings = Partial<Pick<ConversationEntity, 'title' | 'agentMode' | 'agentProvider' | 'agentModel' | 'agentSystemPrompt' | 'agentTools'>>;

function toView(conversation: ConversationEntity, participants: ParticipantEntity[]): ConversationView {
  return {
    id: conversation.id,
    title: conversation.title,
    ownerId: conversation.ownerId,
    agent: {
      mode: conversation.agentMode,
      provider: conversation.agentProvider,
      model: conversation.agentModel,
      systemPrompt: conversation.agentSystemPrompt,
      tools: conversation.agentTools,
    },
    lastSeq: conversation.lastSeq,
    version: conversation.version,
    lastMessageAt: conversation.lastMessageAt?.toISOString() ?? null,
    createdAt: conversation.createdAt.toISOString(),
    updatedAt: conversation.updatedAt.toISOString(),
    participants: participants
      // Owner first, then in order of joining.
      .sort(
        (a, b) =>
          Number(b.role === 'owner') - Number(a.role === 'owner') ||
          a.joinedAt.getTime() - b.joinedAt.getTime() ||
          a.userId.localeCompare(b.userId),
      )
      .map(
        (participant): ParticipantView => ({
          userId: participant.userId,
          role: participant.role,
          lastReadSeq: participant.lastReadSeq,
          pinned: participant.pinned,
          archived: participant.archived,
        }),
      ),
  };
}

/**
 * Conversations with their participants, in one round trip: the ids in $1, each row with its
 * position there (`ord`); deleted or unknown ones have no row.
 */
const VIEWS: Statement = {
  name: 'conversations.views',
  text: `
  SELECT q.ord, c.id, c.title, c.owner_id, c.agent_mode, c.agent_provider, c.agent_model, c.agent_system_prompt, c.agent_tools, c.last_seq,
         c.version, c.last_message_at, c.created_at, c.updated_at,
         coalesce((SELECT json_agg(json_build_object('userId', p.user_id, 'role', p.role, 'lastReadSeq', p.last_read_seq,
                     'pinned', p.pinned, 'archived', p.archived, 'joinedAt', p.joined_at))
                   FROM conversation_participants p WHERE p.conversation_id = c.id), '[]') AS participants
  FROM unnest($1::uuid[]) WITH ORDINALITY AS q(id, ord)
  JOIN conversations c ON c.id = q.id AND c.deleted_at IS NULL`,
};

function viewOf(row: ViewRow): ConversationView {
  const conversation = Object.assign(new ConversationEntity(), {
    id: row.id,
    title: row.title,
    ownerId: row.owner_id,
    agentMode: row.agent_mode,
    agentProvider: row.agent_provider,
    agentModel: row.agent_model,
    agentSystemPrompt: row.agent_system_prompt,
    agentTools: row.agent_tools,
    lastSeq: row.last_seq,
    version: Number(row.version),
    lastMessageAt: row.last_message_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  });
  const participants = row.participants.map((p) => Object.assign(new ParticipantEntity(), { ...p, conversationId: row.id, joinedAt: new Date(p.joinedAt) }));
  return toView(conversation, participants);
}

/** Thrown inside a versioned change to roll it back, version included, when it changed nothing. */
class NothingChanged extends Error {}

/** Every query on conversations and their participants. Soft-deleted conversations are invisible. */
@Injectable()
export class ConversationsRepository {
  /** Every request and join reads a view when the access cache misses: reads under way together share a statement. */
  private readonly views: GroupCommit<string, ConversationView | undefined>;

  constructor(private readonly dataSource: DataSource) {
    this.views = batchedRead(dataSource, (ids) => this.findViews(ids));
  }

  private get conversations() {
    return this.dataSource.getRepository(ConversationEntity);
  }

  private get participants() {
    return this.dataSource.getRepository(ParticipantEntity);
  }

  /**
   * Takes the conversation's next version (see ConversationEntity.version). The row stays locked
   * until the transaction ends, so versions are handed out — and committed — one at a time, in
   * order: whoever reads the conversation at version V sees every change up to V and none after.
   * Undefined if the conversation no longer exists.
   */
  async takeVersion(id: string, manager: EntityManager): Promise<number | undefined> {
    const rows = rowsOf<{ version: string }>(await manager.query(`UPDATE conversations SET version = version + 1 WHERE id = $1 RETURNING version`, [id]));
    return rows[0] && Number(rows[0].version);
  }

  /**
   * Runs `change` in a transaction that first takes the conversation's next version. A change that
   * finds nothing to do (answers undefined) is rolled back with its version, so versions stay
   * gap-free. Taking the version first also orders the locks: conversation, then what changes.
   */
  async versioned<T>(id: string, change: (manager: EntityManager, version: number) => Promise<T | undefined>): Promise<{ result: T; version: number } | undefined> {
    try {
      return await this.dataSource.transaction(async (manager) => {
        const version = await this.takeVersion(id, manager);
        if (version === undefined) return undefined;
        const result = await change(manager, version);
        if (result === undefined) throw new NothingChanged();
        return { result, version };
      });
    } catch (error) {
      if (error instanceof NothingChanged) return undefined;
      throw error;
    }
  }

  /**
   * Reads the conversation and, with `read`, whatever goes with it, all at one version (one
   * snapshot): what `read` sees is exactly the state up to `view.version`. Undefined if the
   * conversation no longer exists.
   */
  async atVersion<T>(id: string, read: (view: ConversationView, manager: EntityManager) => Promise<T>): Promise<T | undefined> {
    return this.dataSource.transaction('REPEATABLE READ', async (manager) => {
      const view = await this.findView(id, manager);
      return view && read(view, manager);
    });
  }

  async create(fields: NewConversation, members: { userId: string; role: ParticipantRole }[]): Promise<string> {
    return this.dataSource.transaction(async (manager) => {
      const conversation = await manager.getRepository(ConversationEntity).save(manager.create(ConversationEntity, fields));
      await manager
        .getRepository(ParticipantEntity)
        .insert([{ userId: fields.ownerId, role: 'owner' as const }, ...members].map((member) => ({ ...member, conversationId: conversation.id })));
      return conversation.id;
    });
  }

  /**
   * The conversation with its participants, in one round trip (it is on every request's path);
   * within `manager`'s transaction when given.
   */
  async findView(id: string, manager?: EntityManager): Promise<ConversationView | undefined> {
    if (!manager) return this.views.submit(id);
    return (await this.findViews([id], manager))[0];
  }

  /** findView of several conversations in one statement (VIEWS), answered in the order asked. */
  private async findViews(ids: string[], manager: EntityManager | DataSource = this.dataSource): Promise<(ConversationView | undefined)[]> {
    const found = ids.map((): ConversationView | undefined => undefined);
    for (const row of await runStatement<ViewRow>(manager, VIEWS, [ids])) found[Number(row.ord) - 1] = viewOf(row);
    return found;
  }

  /** The caller's conversations, most recent activity first, by keyset (never OFFSET). */
  async listForUser(userId: string, filter: ListFilter): Promise<{ views: ConversationView[]; last?: { activity: string; id: string } }> {
    const query = this.conversations
      .createQueryBuilder('c')
      .innerJoin(ParticipantEntity, 'p', 'p.conversation_id = c.id AND p.user_id = :userId', { userId })
      .addSelect('c.last_activity_at::text', 'activity_key')
      .where('c.deleted_at IS NULL')
      .andWhere('p.archived = :archived', { archived: filter.archived })
      .orderBy('c.last_activity_at', 'DESC')
      .addOrderBy('c.id', 'DESC')
      .limit(filter.limit + 1);
    if (filter.q) query.andWhere(`c.title ILIKE :q ESCAPE '\\'`, { q: `%${filter.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%` });
    if (filter.after) {
      query.andWhere('(c.last_activity_at, c.id) < (:activity::timestamptz, :id::uuid)', filter.after);
    }
    const { entities, raw } = await query.getRawAndEntities<{ activity_key: string }>();
    const page = entities.slice(0, filter.limit);
    const participants = page.length ? await this.participants.findBy({ conversationId: In(page.map((c) => c.id)) }) : [];
    const views = page.map((conversation) =>
      toView(
        conversation,
        participants.filter((participant) => participant.conversationId === conversation.id),
      ),
    );
    const lastIndex = page.length - 1;
    return entities.length > filter.limit ? { views, last: { activity: raw[lastIndex]!.activity_key, id: page[lastIndex]!.id } } : { views };
  }

  async updateSettings(id: string, settings: ConversationSettings, manager: EntityManager): Promise<void> {
    await manager.getRepository(ConversationEntity).update({ id }, settings);
  }

  /**
   * Stores the agent's rolling memory of turns up to and including `seq`, worked out from the
   * summary held (`from.summary` up to `from.summarySeq`) and the messages after `from.readAfter`
   * as they were at `from.readVersion` (the newest version among them). Only if both are still so
   * (the text too: a summary dropped, then worked out again up to the same seq, has the same seq): a summary read
   * before an edit, a deletion or an erasure (which forget it, see forgetSummaryFrom) would bring
   * back what was removed, and one read before another write would take the memory back. False
   * when not stored.
   */
  async updateSummary(
    id: string,
    summary: string,
    seq: number,
    from: { summary: string | null; summarySeq: number; readAfter: number; readVersion: number },
  ): Promise<boolean> {
    return this.dataSource.transaction(async (manager) => {
      // The row first, then the check in a statement of its own: a change holding the row (every
      // versioned change does) is committed by then and seen. In one statement, PostgreSQL would
      // wait for the row, then recheck the row alone, with the messages as they were before.
      await manager.query(`SELECT 1 FROM conversations WHERE id = $1 FOR NO KEY UPDATE`, [id]);
      // Not through the entity: its updated_at would move, and the summary is no change that participants see.
      const rows = rowsOf<unknown>(
        await manager.query(
          `UPDATE conversations SET summary = $2, summary_seq = $3
           WHERE id = $1 AND summary_seq = $4 AND summary IS NOT DISTINCT FROM $7
             AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = $1 AND m.seq > $5 AND m.seq <= $3 AND m.version > $6)
           RETURNING 1`,
          [id, summary, seq, from.summarySeq, from.readAfter, from.readVersion, from.summary],
        ),
      );
      return rows.length > 0;
    });
  }

  /** A message at `seq` changed (edited, deleted): a summary that covers it quotes it as it was, and is dropped. */
  async forgetSummaryFrom(id: string, seq: number, manager: EntityManager): Promise<void> {
    await manager.query(`UPDATE conversations SET summary = NULL, summary_seq = 0 WHERE id = $1 AND summary_seq >= $2`, [id, seq]);
  }

  async findSummary(id: string): Promise<{ summary: string | null; summarySeq: number } | undefined> {
    const row = await this.conversations.findOne({ select: { summary: true, summarySeq: true }, where: { id } });
    return row ? { summary: row.summary, summarySeq: row.summarySeq } : undefined;
  }

  async setParticipantFlags(conversationId: string, userId: string, flags: { pinned?: boolean; archived?: boolean }, manager?: EntityManager): Promise<void> {
    if (Object.keys(flags).length) await (manager?.getRepository(ParticipantEntity) ?? this.participants).update({ conversationId, userId }, flags);
  }

  /**
   * Marks the conversation deleted and, in the same transaction, runs `alongside` (what goes with
   * it). False, and nothing run, if it was already deleted.
   */
  async softDelete(id: string, alongside: (manager: EntityManager) => Promise<void>): Promise<boolean> {
    return this.dataSource.transaction(async (manager) => {
      const rows = rowsOf<unknown>(await manager.query(`UPDATE conversations SET deleted_at = now(), updated_at = now() WHERE id = $1 AND deleted_at IS NULL RETURNING 1`, [id]));
      if (!rows.length) return false;
      await alongside(manager);
      return true;
    });
  }

  /**
   * Adds the user, or changes their role if they already take part (the owner's role never
   * changes); false if that changed nothing.
   */
  /**
   * Adds the participant or changes their role. Undefined if nothing changed; otherwise the role
   * they had before (null: they were not a participant), read in the same statement's snapshot.
   */
  async upsertParticipant(
    conversationId: string,
    userId: string,
    role: ParticipantRole,
    manager: EntityManager,
  ): Promise<{ previousRole: ParticipantRole | null } | undefined> {
    const rows = rowsOf<{ previous_role: ParticipantRole | null }>(
      await manager.query(
        `WITH previous AS (SELECT role FROM conversation_participants WHERE conversation_id = $1 AND user_id = $2)
         INSERT INTO conversation_participants (conversation_id, user_id, role) VALUES ($1, $2, $3)
         ON CONFLICT (conversation_id, user_id) DO UPDATE SET role = EXCLUDED.role
         WHERE conversation_participants.role <> 'owner' AND conversation_participants.role <> EXCLUDED.role
         RETURNING (SELECT role FROM previous) AS previous_role`,
        [conversationId, userId, role],
      ),
    );
    return rows[0] && { previousRole: rows[0].previous_role };
  }

  async removeParticipant(conversationId: string, userId: string, manager: EntityManager): Promise<boolean> {
    const result = await manager.getRepository(ParticipantEntity).delete({ conversationId, userId });
    return (result.affected ?? 0) > 0;
  }

  /**
   * Locks, in id order, every conversation the account left a trace in: those it takes part in or
   * owns, and those holding its messages or runs it requested (which the erasure changes too,
   * taking versions of their conversations), deleted ones included.
   */
  async lockTracesOf(userId: string, manager: EntityManager): Promise<void> {
    await manager.query(
      `SELECT 1 FROM conversations WHERE id IN (
         SELECT conversation_id FROM conversation_participants WHERE user_id = $1
         UNION SELECT id FROM conversations WHERE owner_id = $1
         UNION SELECT conversation_id FROM messages WHERE author_id = $1
         UNION SELECT conversation_id FROM agent_runs WHERE requested_by_id = $1
       )
       ORDER BY id FOR UPDATE`,
      [userId],
    );
  }

  /**
   * A deleted account's conversations. Those it owns that no other account takes part in, or that
   * it had already deleted, go entirely (messages, runs, tool calls, participants cascade). Those it
   * owns with others pass to the longest-standing remaining participant, members before viewers,
   * and lose the title and system prompt it wrote. Its own participation ends everywhere, which
   * takes a version of each conversation it leaves (the change of owner comes with it).
   */
  async eraseParticipant(userId: string, manager: EntityManager): Promise<{ deleted: string[]; left: string[] }> {
    const deleted = rowsOf<{ id: string; live: boolean }>(
      await manager.query(
        `DELETE FROM conversations c
         WHERE c.owner_id = $1 AND (c.deleted_at IS NOT NULL OR NOT EXISTS (
           SELECT 1 FROM conversation_participants p JOIN users u ON u.id = p.user_id AND u.deleted_at IS NULL
           WHERE p.conversation_id = c.id AND p.user_id <> $1))
         RETURNING c.id, c.deleted_at IS NULL AS live`,
        [userId],
      ),
    );
    await manager.query(
      `WITH heir AS (
         SELECT DISTINCT ON (p.conversation_id) p.conversation_id, p.user_id
         FROM conversation_participants p
         JOIN conversations c ON c.id = p.conversation_id AND c.owner_id = $1
         JOIN users u ON u.id = p.user_id AND u.deleted_at IS NULL
         WHERE p.user_id <> $1
         ORDER BY p.conversation_id, p.role = 'member' DESC, p.joined_at, p.user_id
       ), promoted AS (
         UPDATE conversation_participants p SET role = 'owner' FROM heir
         WHERE p.conversation_id = heir.conversation_id AND p.user_id = heir.user_id
       )
       UPDATE conversations c SET owner_id = heir.user_id, title = '', agent_system_prompt = NULL, updated_at = now()
       FROM heir WHERE c.id = heir.conversation_id`,
      [userId],
    );
    const left = rowsOf<{ conversation_id: string }>(
      await manager.query(
        `WITH membership AS (DELETE FROM conversation_participants WHERE user_id = $1 RETURNING conversation_id)
         UPDATE conversations c SET version = c.version + 1 FROM membership WHERE c.id = membership.conversation_id
         RETURNING c.id AS conversation_id`,
        [userId],
      ),
    );
    return { deleted: deleted.filter((row) => row.live).map((row) => row.id), left: left.map((row) => row.conversation_id) };
  }

  /** The agent's rolling memory of these conversations is dropped (it condensed erased messages). */
  async forgetSummaries(ids: string[], manager: EntityManager): Promise<void> {
    if (ids.length) await manager.query(`UPDATE conversations SET summary = NULL, summary_seq = 0 WHERE id = ANY($1::uuid[])`, [ids]);
  }

  /** Moves the read marker forward (never back, never past the last message); true if it moved. */
  async markRead(conversationId: string, userId: string, seq: number): Promise<boolean> {
    const rows = rowsOf<unknown>(
      await this.dataSource.query(
        `UPDATE conversation_participants p SET last_read_seq = LEAST($3::int, c.last_seq)
         FROM conversations c
         WHERE c.id = p.conversation_id AND p.conversation_id = $1 AND p.user_id = $2 AND p.last_read_seq < LEAST($3::int, c.last_seq)
         RETURNING 1`,
        [conversationId, userId, seq],
      ),
    );
    return rows.length > 0;
  }
}
