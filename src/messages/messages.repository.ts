import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { MAX_SEQ } from '../common/pagination/query-params.js';
import { nextRunCreatedAt, prefixedRunFields, runFromPrefixedRow } from '../agent/runs.repository.js';
import type { RunEntity } from '../agent/run.entity.js';
import { isRefusedStatement, isUniqueViolation } from '../database/database-errors.js';
import { runStatement, type Statement } from '../database/prepared-statements.js';
import { rowsOf } from '../database/query-rows.js';
import { batchedRead, GroupCommit, MAX_BATCH, statementsInFlight } from '../database/group-commit.js';
import { type MessageAttachment, MessageEntity, type MessageMetadata, type MessageRole, type MessageStatus, SEARCH_CONFIG } from './message.entity.js';

/** Columns clients may see (never the search vector). */
const COLUMN_NAMES = [
  'id',
  'conversation_id',
  'seq',
  'version',
  'role',
  'author_id',
  'content',
  'status',
  'client_message_id',
  'run_id',
  'metadata',
  'attachments',
  'feedback_up',
  'feedback_down',
  'created_at',
  'edited_at',
  'deleted_at',
];
const COLUMNS = COLUMN_NAMES.join(', ');
const M_COLUMNS = COLUMN_NAMES.map((name) => `m.${name}`).join(', ');

/**
 * A message's size as JSON (MessageDto), in bytes. Escaping makes the stored size no guide — a
 * control character takes six bytes, a quote two — and a short message is mostly its other
 * fields: ids, status and timestamps, which take at most ROW_FIELDS_BYTES (with the comma that
 * separates it from the next message). jsonb prints a space after every colon and comma, so
 * metadata is counted a little high.
 */
const ROW_FIELDS_BYTES = 520;
const SERIALIZED_SIZE =
  `${ROW_FIELDS_BYTES} + octet_length(to_json(content)::text) + octet_length(metadata::text) + octet_length(attachments::text) ` +
  `+ coalesce(octet_length(to_json(client_message_id)::text), 4)`;

interface MessageRow {
  id: string;
  conversation_id: string;
  seq: number;
  /** bigint: a string from the driver. */
  version: string;
  role: MessageRole;
  author_id: string | null;
  content: string;
  status: MessageStatus;
  client_message_id: string | null;
  run_id: string | null;
  metadata: MessageMetadata;
  attachments: MessageAttachment[];
  feedback_up: number;
  feedback_down: number;
  created_at: Date;
  edited_at: Date | null;
  deleted_at: Date | null;
}

function toEntity(row: MessageRow): MessageEntity {
  return Object.assign(new MessageEntity(), {
    id: row.id,
    conversationId: row.conversation_id,
    seq: row.seq,
    version: Number(row.version),
    role: row.role,
    authorId: row.author_id,
    content: row.content,
    status: row.status,
    clientMessageId: row.client_message_id,
    runId: row.run_id,
    metadata: row.metadata ?? {},
    attachments: row.attachments ?? [],
    feedbackUp: row.feedback_up,
    feedbackDown: row.feedback_down,
    createdAt: row.created_at,
    editedAt: row.edited_at,
    deletedAt: row.deleted_at,
  });
}

export interface NewMessage {
  conversationId: string;
  role: MessageRole;
  authorId: string | null;
  content: string;
  status?: MessageStatus;
  clientMessageId?: string | null;
  runId?: string | null;
  metadata?: MessageMetadata;
  attachments?: MessageAttachment[];
}

export interface HistoryWindow {
  limit: number;
  afterSeq?: number;
  beforeSeq?: number;
}

export interface HistoryPage {
  items: MessageEntity[];
  hasMore: boolean;
}

/** A window of history as of a state of its conversation (see MessagesRepository.historyAt). */
export interface HistoryAt {
  /** The conversation's version and its row's xmin, as `<version>.<xmin>`: digits and one dot. */
  token: string;
  /** Undefined when the conversation was still in the state the reader knew. */
  page?: HistoryPage;
}

/** Which messages a search reads, among those of the conversations the user takes part in. */
export interface MessageSearchScope {
  /** Only this conversation's… */
  conversationId?: string;
  /** …and the user's own messages in the others. */
  ownMessagesElsewhere?: boolean;
}

export interface SearchRow {
  message: MessageEntity;
  conversationTitle: string;
  rank: number;
  snippet: string;
}

/** One run's context read (see MessagesRepository.contextTail). */
interface TailRequest {
  conversationId: string;
  uptoSeq: number;
  limit: number;
}

/**
 * The start of several agents' contexts (see contextTail): per request, the conversation's summary
 * with its newest `lim` messages up to `upto` and their authors' names, rows tagged with the
 * request's position (`ord`); a conversation that is gone has no rows.
 */
const CONTEXT_TAILS: Statement = {
  name: 'messages.context-tails',
  text: `
  SELECT q.ord, c.summary, c.summary_seq, t.*
  FROM unnest($1::uuid[], $2::int[], $3::int[]) WITH ORDINALITY AS q(conversation_id, upto, lim, ord)
  JOIN conversations c ON c.id = q.conversation_id
  LEFT JOIN LATERAL (
    SELECT ${M_COLUMNS}, u.display_name AS author_name FROM messages m LEFT JOIN users u ON u.id = m.author_id
    WHERE m.conversation_id = c.id AND m.seq <= q.upto ORDER BY m.seq DESC LIMIT q.lim
  ) t ON true
  ORDER BY q.ord, t.seq DESC`,
};

/** See MessagesRepository.contextTail. */
export interface ContextTail {
  /** Undefined if the conversation does not exist. */
  summary: { summary: string | null; summarySeq: number } | undefined;
  items: MessageEntity[];
  hasMore: boolean;
  /** Display names of the authors of `items`, by id. */
  names: Map<string, string>;
}

/** Which order a page of messages follows: creation (seq) or last change (version). */
export type PageKey = 'seq' | 'version';

/**
 * Appends a message in one statement: the conversation row is locked while its counters move, so
 * under any concurrency seqs and versions are unique and gap-free; the author's read marker moves
 * to it. `also` adds further steps on the inserted row to the same statement, `select` what it
 * answers. An idempotency key already taken fails the whole statement (unique violation), so that
 * nothing of it stays — no increment, no gap.
 */
const appendStatement = (also = '', select = 'SELECT * FROM inserted') => `
  WITH next AS (
    UPDATE conversations SET last_seq = last_seq + 1, version = version + 1, last_message_at = now(), last_activity_at = now()
    WHERE id = $1 AND deleted_at IS NULL
    RETURNING id, last_seq, version
  ), inserted AS (
    INSERT INTO messages (conversation_id, seq, version, role, author_id, content, status, client_message_id, run_id, metadata, attachments)
    SELECT next.id, next.last_seq, next.version, $2, $3, $4, $5, $6, $7, $8, $9 FROM next
    RETURNING ${COLUMNS}
  ), marker AS (
    UPDATE conversation_participants p SET last_read_seq = inserted.seq FROM inserted
    WHERE p.conversation_id = inserted.conversation_id AND p.user_id = inserted.author_id AND p.last_read_seq < inserted.seq
  )${also}
  ${select}`;

const APPEND: Statement = { name: 'messages.append', text: appendStatement() };

/** A run's reply: appended, and linked from its run in the same statement — a run never lacks the reply it streams into. */
const APPEND_REPLY = appendStatement(`, linked AS (
    UPDATE agent_runs r SET response_message_id = inserted.id FROM inserted WHERE r.id = inserted.run_id
  )`);

const RUN_PREFIX = 'run.';
const REPLY_PREFIX = 'reply.';

/**
 * The most text and metadata (bytes) a claimed run's context page brings with its send: a batch of
 * sends answers every one of its runs' pages at once, so pages of long messages are left for the
 * runs to read themselves, as they did before (see APPEND_WITH_RUNS).
 */
const CONTEXT_PAGE_MAX_BYTES = 256 * 1024;

/**
 * A message's columns for a context read out as JSON (see APPEND_WITH_RUNS): timestamps as whole
 * epoch milliseconds, which become the same Dates as the driver's parse of the columns.
 */
const CONTEXT_COLUMNS = COLUMN_NAMES.map((name) =>
  name.endsWith('_at') ? `floor(extract(epoch FROM m.${name}) * 1000)::float8 AS ${name}` : `m.${name}`,
).join(', ');

/**
 * User messages, each with the run that answers it, in one statement (group commit), to as many
 * conversations — one message per conversation (a conversation's next message waits for the next
 * statement). Conversations are locked in id order. A run starts claimed by the instance
 * (running) when its conversation has no other run queued, running or waiting for approvals, and
 * queued otherwise: conversation_runs_idle decides once the statement holds the conversation row,
 * the lock every claim takes (RunsRepository.claimNext). A claimed run gets its reply (the
 * assistant message it streams into, status streaming) at once, taking the next seq and version;
 * a queued one gets it when it starts. The run's creation time is read under the lock too, so
 * that runs queue (claimNext: oldest first) in the order of their messages. Rows are tagged with
 * their input's position (`ord`); a conversation that is gone has none. A claimed run's row also
 * brings what its agent's context starts from (see contextTail): the conversation's summary, the
 * sender's name and the `contextLimit` messages before this one with their authors' names — read
 * as of the statement's start, while the claim sees the conversation once its lock is held. Every
 * change to a conversation's messages takes its next version under that lock, so the page is given
 * only when the version the statement started with is the one it then found (`seen`) —
 * otherwise something committed in between (a reply finished, a message edited) — and when it
 * holds at most CONTEXT_PAGE_MAX_BYTES; else the run reads its context itself.
 */
const appendWithRunsStatement = (contextLimit: number): Statement => ({
  name: `messages.append-with-runs-${contextLimit}`,
  text: `
  WITH input AS (
    SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::uuid[], $8::jsonb[], $9::jsonb[],
      $10::text[], $11::text[], $12::text[]) WITH ORDINALITY
      AS t(conversation_id, role, author_id, content, status, client_message_id, message_run_id, metadata, attachments, provider, model, instance_id, ord)
  ), seen AS MATERIALIZED (
    SELECT id, version FROM conversations WHERE id IN (SELECT conversation_id FROM input)
  ), locked AS MATERIALIZED (
    SELECT id FROM conversations WHERE id IN (SELECT conversation_id FROM input) AND deleted_at IS NULL ORDER BY id FOR UPDATE
  ), claim AS MATERIALIZED (
    SELECT input.*, conversation_runs_idle(locked.id) AS idle, gen_random_uuid() AS message_id, gen_random_uuid() AS run_id, gen_random_uuid() AS reply_id
    FROM locked JOIN input ON input.conversation_id = locked.id
  ), next AS (
    UPDATE conversations c SET last_seq = c.last_seq + 1 + claim.idle::int, version = c.version + 1 + claim.idle::int,
      last_message_at = now(), last_activity_at = now()
    FROM claim WHERE c.id = claim.conversation_id
    RETURNING claim.*, c.last_seq - claim.idle::int AS seq, c.version - claim.idle::int AS version, c.summary, c.summary_seq
  ), inserted AS (
    INSERT INTO messages (id, conversation_id, seq, version, role, author_id, content, status, client_message_id, run_id, metadata, attachments)
    SELECT message_id, conversation_id, seq, version, role, author_id, content, status, client_message_id, message_run_id, metadata, attachments FROM next
    UNION ALL
    SELECT reply_id, conversation_id, seq + 1, version + 1, 'assistant', NULL, '', 'streaming', NULL, run_id, jsonb_build_object('model', model), '[]' FROM next WHERE idle
    RETURNING ${COLUMNS}
  ), marker AS (
    UPDATE conversation_participants p SET last_read_seq = next.seq FROM next
    WHERE p.conversation_id = next.conversation_id AND p.user_id = next.author_id AND p.last_read_seq < next.seq
  ), run AS (
    INSERT INTO agent_runs (id, conversation_id, trigger_message_id, response_message_id, requested_by_id, provider, model, created_at, status, instance_id, started_at, heartbeat_at)
    SELECT run_id, conversation_id, message_id, CASE WHEN idle THEN reply_id END, author_id, provider, model, ${nextRunCreatedAt('next.conversation_id')},
           CASE WHEN idle THEN 'running' ELSE 'queued' END, CASE WHEN idle THEN instance_id END, CASE WHEN idle THEN now() END, CASE WHEN idle THEN now() END
    FROM next
    RETURNING *
  ), older AS (
    SELECT next.ord, t.* FROM next CROSS JOIN LATERAL (
      SELECT ${CONTEXT_COLUMNS}, u.display_name AS author_name FROM messages m LEFT JOIN users u ON u.id = m.author_id
      WHERE m.conversation_id = next.conversation_id AND m.seq < next.seq ORDER BY m.seq DESC LIMIT ${contextLimit}
    ) t WHERE next.idle
  )
  SELECT next.ord, message.*, ${prefixedRunFields('run', RUN_PREFIX)}, ${COLUMN_NAMES.map((name) => `reply.${name} AS "${REPLY_PREFIX}${name}"`).join(', ')},
    next.summary AS context_summary, next.summary_seq AS context_summary_seq, author.display_name AS context_author_name,
    CASE WHEN next.idle AND seen.version = next.version - 1
      AND (SELECT coalesce(sum(octet_length(older.content) + octet_length(older.metadata::text)), 0) FROM older WHERE older.ord = next.ord) <= ${CONTEXT_PAGE_MAX_BYTES}
      THEN coalesce((SELECT json_agg(row_to_json(older) ORDER BY older.seq DESC) FROM older WHERE older.ord = next.ord), '[]') END AS context_older
  FROM next JOIN inserted message ON message.id = next.message_id JOIN run ON run.id = next.run_id
  LEFT JOIN inserted reply ON reply.id = run.response_message_id
  LEFT JOIN users author ON author.id = next.author_id
  LEFT JOIN seen ON seen.id = next.conversation_id`,
});
/**
 * APPEND_WITH_RUNS by context limit. The limit is written into the statement rather than passed:
 * as a parameter it made PostgreSQL plan the prepared statement for 1.2–2 ms on every call, as a
 * constant for ≈ 0.7 ms (the batch's arrays still keep it from settling on a generic plan).
 */
const APPEND_WITH_RUNS = new Map<number, Statement>();
function appendWithRuns(contextLimit: number): Statement {
  let statement = APPEND_WITH_RUNS.get(contextLimit);
  if (!statement) APPEND_WITH_RUNS.set(contextLimit, (statement = appendWithRunsStatement(contextLimit)));
  return statement;
}

/**
 * Several messages appended in one statement (group commit), to one or many conversations: the
 * conversations are locked in id order (two batches never wait on each other crosswise), each
 * takes as many seqs and versions as it gets messages, handed out in the batch's order. Messages
 * of a conversation that is gone are left out; a taken idempotency key fails the whole batch.
 */
const APPEND_MANY: Statement = {
  name: 'messages.append-many',
  text: `
  WITH input AS (
    SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::uuid[], $8::jsonb[], $9::jsonb[]) WITH ORDINALITY
      AS t(conversation_id, role, author_id, content, status, client_message_id, run_id, metadata, attachments, ord)
  ), locked AS MATERIALIZED (
    SELECT id FROM conversations WHERE id IN (SELECT conversation_id FROM input) AND deleted_at IS NULL ORDER BY id FOR UPDATE
  ), counts AS (
    SELECT conversation_id, count(*)::int AS n FROM input GROUP BY conversation_id
  ), next AS (
    UPDATE conversations c SET last_seq = c.last_seq + counts.n, version = c.version + counts.n, last_message_at = now(), last_activity_at = now()
    FROM counts WHERE c.id = counts.conversation_id AND c.id IN (SELECT id FROM locked)
    RETURNING c.id, c.last_seq - counts.n AS seq_base, c.version - counts.n AS version_base
  ), numbered AS (
    SELECT input.*, next.seq_base + row_number() OVER w AS seq, next.version_base + row_number() OVER w AS version
    FROM input JOIN next ON next.id = input.conversation_id
    WINDOW w AS (PARTITION BY input.conversation_id ORDER BY input.ord)
  ), inserted AS (
    INSERT INTO messages (conversation_id, seq, version, role, author_id, content, status, client_message_id, run_id, metadata, attachments)
    SELECT conversation_id, seq, version, role, author_id, content, status, client_message_id, run_id, metadata, attachments FROM numbered
    RETURNING ${COLUMNS}
  ), marker AS (
    UPDATE conversation_participants p SET last_read_seq = latest.seq
    FROM (SELECT conversation_id, author_id, max(seq) AS seq FROM inserted WHERE author_id IS NOT NULL GROUP BY conversation_id, author_id) latest
    WHERE p.conversation_id = latest.conversation_id AND p.user_id = latest.author_id AND p.last_read_seq < latest.seq
  )
  SELECT inserted.*, numbered.ord FROM inserted JOIN numbered ON numbered.conversation_id = inserted.conversation_id AND numbered.seq = inserted.seq`,
};

function appendParameters(input: NewMessage): unknown[] {
  return [
    input.conversationId,
    input.role,
    input.authorId,
    input.content,
    input.status ?? 'complete',
    input.clientMessageId ?? null,
    input.runId ?? null,
    JSON.stringify(input.metadata ?? {}),
    JSON.stringify(input.attachments ?? []),
  ];
}

/** The parameters of APPEND_MANY: one array per column. */
function batchParameters(inputs: NewMessage[]): unknown[][] {
  const columns: unknown[][] = Array.from({ length: 9 }, () => []);
  for (const input of inputs) appendParameters(input).forEach((value, index) => columns[index]!.push(value));
  return columns;
}

/** A run to start with the message that it answers (see APPEND_WITH_RUNS). */
export interface RunRequest {
  provider: string;
  model: string;
  /** The instance that executes the run if it is claimed at once. */
  instanceId: string;
  /** How many messages of context the run reads first (see contextTail); a claimed run gets them with the send. */
  contextLimit: number;
}

/** A row of APPEND_WITH_RUNS: the message, its run and reply under prefixes, and a claimed run's context. */
type AppendedRow = MessageRow &
  Record<string, unknown> & {
    ord: string;
    context_summary: string | null;
    context_summary_seq: number;
    context_author_name: string | null;
    /** The messages before, newest first, as CONTEXT_COLUMNS; null for a queued run. */
    context_older: (Omit<MessageRow, 'created_at' | 'edited_at' | 'deleted_at'> & {
      created_at: number;
      edited_at: number | null;
      deleted_at: number | null;
      author_name: string | null;
    })[] | null;
  };

/**
 * The context tail of a claimed run from its APPEND_WITH_RUNS row: the `limit` newest messages up
 * to the one just stored, ascending. Undefined when the messages before it are not all there (seqs
 * are gap-free: one is missing that the statement could not see, or that was removed since).
 */
function appendedTail(message: MessageEntity, row: AppendedRow, limit: number): ContextTail | undefined {
  const older = row.context_older!.slice(0, limit);
  const expected = Math.min(limit, message.seq - 1);
  if (older.length !== expected || older.some((item, index) => item.seq !== message.seq - 1 - index)) return undefined;
  const date = (ms: number | null) => (ms === null ? null : new Date(ms));
  const rows = older.map((item): MessageRow => ({ ...item, created_at: new Date(item.created_at), edited_at: date(item.edited_at), deleted_at: date(item.deleted_at) }));
  const items = [...rows.map(toEntity).toReversed(), message];
  const names = new Map<string, string>();
  for (const item of [...older, { author_id: message.authorId, author_name: row.context_author_name }]) {
    if (item.author_id && item.author_name !== null) names.set(item.author_id, item.author_name);
  }
  return {
    summary: { summary: row.context_summary, summarySeq: row.context_summary_seq },
    items: items.slice(-limit),
    hasMore: items.length > limit,
    names,
  };
}

interface RunAppend {
  message: NewMessage;
  run: RunRequest;
}

export interface Appended {
  message: MessageEntity;
  /** False when the clientMessageId was used before: the stored message is returned, nothing written. */
  created: boolean;
  /** The run that answers the message (only when one was asked for and the message is new): running if claimed, else queued. */
  run?: RunEntity;
  /** The reply a claimed run streams into. */
  reply?: MessageEntity;
  /** A claimed run's context tail as contextTail(conversation, message seq, run.contextLimit) would read it, when the statement saw all of it. */
  tail?: ContextTail;
}

/**
 * A window of history by keyset on (conversation_id, seq), read forwards or backwards, with the
 * conversation's state token in the same snapshot: its version and its row's xmin. The version
 * alone can repeat for other content once the database has gone back in time (a restore, a
 * failover that lost commits) and moved forwards again; the transaction that wrote the row does
 * not. The window is read only when the token is not $5 (the one a reader already holds the
 * window at; '' for none): otherwise one row, without a message.
 */
const historyStatement = (order: 'ASC' | 'DESC'): Statement => ({
  name: `messages.history-${order.toLowerCase()}`,
  text: `SELECT c.version || '.' || c.xmin AS conversation_token, m.* FROM conversations c
    LEFT JOIN LATERAL (
      SELECT ${COLUMNS} FROM messages
      WHERE conversation_id = c.id AND seq > $2 AND seq < $3 AND c.version || '.' || c.xmin <> $5
      ORDER BY seq ${order} LIMIT $4
    ) m ON true
    WHERE c.id = $1`,
});
const HISTORY_FORWARDS = historyStatement('ASC');
export const HISTORY_BACKWARDS = historyStatement('DESC');

/** Every query on messages. */
@Injectable()
export class MessagesRepository {
  private readonly appends: GroupCommit<NewMessage, MessageEntity | undefined>;
  private readonly runAppends: GroupCommit<RunAppend, Appended | undefined>;
  private readonly tails: GroupCommit<TailRequest, ContextTail>;

  constructor(private readonly dataSource: DataSource) {
    const maxInFlight = statementsInFlight(dataSource);
    this.appends = new GroupCommit((batch) => this.appendMany(batch), (input) => this.appendOne(input), {
      maxBatch: MAX_BATCH,
      maxInFlight,
      retryAlone: isRefusedStatement,
    });
    // Sends that start runs, likewise: a burst of messages to agents is stored in a few statements.
    this.runAppends = new GroupCommit((batch) => this.appendWithRuns(batch), async (input) => (await this.appendWithRuns([input]))[0], {
      maxBatch: MAX_BATCH,
      maxInFlight,
      retryAlone: isRefusedStatement,
      distinctBy: (input) => input.message.conversationId.toLowerCase(),
    });
    this.tails = batchedRead(dataSource, (batch) => this.contextTails(batch));
  }

  /**
   * Stores a message with the conversation's next seq (see APPEND); concurrent appends are
   * committed together (group commit), each answered once the commit that holds it is done. With a
   * clientMessageId already used by this author, nothing is written and the stored message comes
   * back with `created: false` — under concurrent retries too. With `run`, the run answering the
   * message is stored with it (see APPEND_WITH_RUNS), committed together with other such sends.
   * Undefined if the conversation is gone.
   */
  async append(input: NewMessage, run?: RunRequest): Promise<Appended | undefined> {
    try {
      if (run) return await this.runAppends.submit({ message: input, run });
      const message = await this.appends.submit(input);
      return message && { message, created: true };
    } catch (error) {
      const key = input.clientMessageId;
      if (!key || !input.authorId || !isUniqueViolation(error)) throw error;
      // Stored meanwhile by a concurrent copy (the caller looked for a stored one first: MessagesService.findReplay).
      const stored = await this.findByClientMessageId(input.conversationId, input.authorId, key);
      return stored ? { message: stored, created: false } : undefined;
    }
  }

  /** Messages with their runs (APPEND_WITH_RUNS), one per conversation, answered in the order given; undefined for a conversation that is gone. */
  private async appendWithRuns(inputs: RunAppend[]): Promise<(Appended | undefined)[]> {
    const columns = batchParameters(inputs.map(({ message }) => message));
    columns.push(
      inputs.map(({ run }) => run.provider),
      inputs.map(({ run }) => run.model),
      inputs.map(({ run }) => run.instanceId),
    );
    // One limit for the batch: the most any input asks for (a run given more than it asked for is trimmed below).
    const contextLimit = Math.max(...inputs.map(({ run }) => run.contextLimit));
    const rows = rowsOf<AppendedRow>(await runStatement(this.dataSource, appendWithRuns(contextLimit), columns));
    const results: (Appended | undefined)[] = inputs.map(() => undefined);
    for (const row of rows) {
      const reply = Object.fromEntries(COLUMN_NAMES.map((name) => [name, row[`${REPLY_PREFIX}${name}`]])) as unknown as MessageRow;
      const message = toEntity(row);
      const tail = row.context_older && appendedTail(message, row, inputs[Number(row.ord) - 1]!.run.contextLimit);
      results[Number(row.ord) - 1] = {
        message,
        created: true,
        run: runFromPrefixedRow(row, RUN_PREFIX)!,
        ...(reply.id !== null && { reply: toEntity(reply) }),
        ...(tail && { tail }),
      };
    }
    return results;
  }

  private async appendOne(input: NewMessage): Promise<MessageEntity | undefined> {
    const rows = await runStatement<MessageRow>(this.dataSource, APPEND, appendParameters(input));
    return rows[0] && toEntity(rows[0]);
  }

  /** Several appends in one statement (APPEND_MANY), answered in the order given; undefined for a conversation that is gone. */
  async appendMany(inputs: NewMessage[]): Promise<(MessageEntity | undefined)[]> {
    const rows = await runStatement<MessageRow & { ord: string }>(this.dataSource, APPEND_MANY, batchParameters(inputs));
    const results: (MessageEntity | undefined)[] = inputs.map(() => undefined);
    for (const row of rows) results[Number(row.ord) - 1] = toEntity(row);
    return results;
  }

  /**
   * Stores the assistant message a run streams into (status streaming, no idempotency key) and
   * sets it as the run's response, in one statement. Undefined if the conversation is gone.
   */
  async appendReply(reply: { conversationId: string; runId: string; metadata: MessageMetadata }): Promise<MessageEntity | undefined> {
    const rows: MessageRow[] = await this.dataSource.query(
      APPEND_REPLY,
      appendParameters({ ...reply, role: 'assistant', authorId: null, content: '', status: 'streaming' }),
    );
    return rows[0] && toEntity(rows[0]);
  }

  async findByClientMessageId(conversationId: string, authorId: string, clientMessageId: string): Promise<MessageEntity | undefined> {
    const rows: MessageRow[] = await this.dataSource.query(
      `SELECT ${COLUMNS} FROM messages WHERE conversation_id = $1 AND author_id = $2 AND client_message_id = $3`,
      [conversationId, authorId, clientMessageId],
    );
    return rows[0] && toEntity(rows[0]);
  }

  async findById(conversationId: string, id: string, manager?: EntityManager): Promise<MessageEntity | undefined> {
    const rows: MessageRow[] = await (manager ?? this.dataSource).query(
      `SELECT ${COLUMNS} FROM messages WHERE conversation_id = $1 AND id = $2`,
      [conversationId, id],
    );
    return rows[0] && toEntity(rows[0]);
  }

  /**
   * A window of history, ascending by seq, by keyset on (conversation_id, seq) — never OFFSET.
   * With afterSeq it reads forwards from there; otherwise backwards from beforeSeq (or the end).
   */
  async history(conversationId: string, window: HistoryWindow): Promise<HistoryPage> {
    return (await this.historyAt(conversationId, window))?.page ?? { items: [], hasMore: false };
  }

  /**
   * history(), with the conversation's state token the window was read at — and, given the token
   * a reader holds this window at (`known`), without the window when the conversation is still
   * there (`page` undefined): every change to a message takes a new version, but for a streaming
   * reply's checkpoints. Undefined when the conversation does not exist.
   */
  async historyAt(conversationId: string, { limit, afterSeq, beforeSeq }: HistoryWindow, known = ''): Promise<HistoryAt | undefined> {
    const forwards = afterSeq !== undefined;
    const rows = await runStatement<MessageRow & { conversation_token: string }>(this.dataSource, forwards ? HISTORY_FORWARDS : HISTORY_BACKWARDS, [
      conversationId,
      afterSeq ?? 0,
      beforeSeq ?? MAX_SEQ,
      limit + 1,
      known,
    ]);
    if (!rows.length) return undefined;
    const token = rows[0]!.conversation_token;
    if (token === known) return { token };
    const messages = rows[0]!.id === null ? [] : rows;
    const page = messages.slice(0, limit).map(toEntity);
    return { token, page: { items: forwards ? page : page.toReversed(), hasMore: messages.length > limit } };
  }

  /**
   * What an agent's context starts from, in one round trip: the newest `limit` messages up to
   * `uptoSeq` (ascending, with whether older ones exist), their authors' display names, and the
   * conversation's stored summary. Runs starting while such reads are under way are read together
   * (many runs start at once after a burst of messages: one statement serves them all).
   */
  contextTail(conversationId: string, uptoSeq: number, limit: number): Promise<ContextTail> {
    return this.tails.submit({ conversationId, uptoSeq, limit });
  }

  /** Several context tails in one statement (CONTEXT_TAILS), answered in the order asked. */
  private async contextTails(requests: TailRequest[]): Promise<ContextTail[]> {
    const rows = rowsOf<MessageRow & { ord: string; summary: string | null; summary_seq: number; author_name: string | null }>(
      await runStatement(this.dataSource, CONTEXT_TAILS, [
        requests.map((request) => request.conversationId),
        requests.map((request) => request.uptoSeq),
        requests.map((request) => request.limit + 1),
      ]),
    );
    const byRequest = requests.map(() => [] as typeof rows);
    for (const row of rows) byRequest[Number(row.ord) - 1]!.push(row);
    return requests.map(({ limit }, index) => {
      const found = byRequest[index]!;
      const messages = found.filter((row) => row.id !== null);
      const names = new Map<string, string>();
      for (const row of messages) if (row.author_id && row.author_name !== null) names.set(row.author_id, row.author_name);
      return {
        summary: found[0] ? { summary: found[0].summary, summarySeq: found[0].summary_seq } : undefined,
        items: messages.slice(0, limit).map(toEntity).toReversed(),
        hasMore: messages.length > limit,
        names,
      };
    });
  }

  /**
   * A recovery page: the messages whose `key` (seq: created; version: changed) is greater than
   * `after`, ascending by it, at most `limit` of them and at most `maxBytes` as sent to clients
   * (JSON) — but always at least one. Sizes are summed in the database, so only the page's own rows
   * (and the one that would overflow it) leave it.
   */
  async recoveryPage(
    conversationId: string,
    key: PageKey,
    after: number,
    { limit, maxBytes }: { limit: number; maxBytes: number },
    manager?: EntityManager,
  ): Promise<{ items: MessageEntity[]; hasMore: boolean; bytes: number }> {
    const rows: (MessageRow & { total: string | number })[] = await (manager ?? this.dataSource).query(
      `SELECT * FROM (
         SELECT ${COLUMNS}, size, sum(size) OVER (ORDER BY ${key}) AS total FROM (
           SELECT ${COLUMNS}, ${SERIALIZED_SIZE} AS size
           FROM messages WHERE conversation_id = $1 AND ${key} > $2 ORDER BY ${key} LIMIT $3
         ) head
       ) page
       WHERE total - size <= $4 ORDER BY ${key}`,
      [conversationId, after, limit + 1, maxBytes],
    );
    const items: MessageEntity[] = [];
    let bytes = 0;
    for (const row of rows) {
      const total = Number(row.total);
      if (items.length === limit || (items.length > 0 && total > maxBytes)) break;
      items.push(toEntity(row));
      bytes = total;
    }
    return { items, hasMore: rows.length > items.length, bytes };
  }

  /**
   * The version after which every message created after `seq` has changed: a deprecated resume
   * point by seq, turned into one by version (which replays those messages, and whatever else
   * changed since). The conversation's version when no message came after `seq`.
   */
  async versionBeforeSeq(conversationId: string, seq: number): Promise<number> {
    const [row] = rowsOf<{ version: string }>(
      await this.dataSource.query(
        `SELECT coalesce((SELECT min(version) - 1 FROM messages WHERE conversation_id = $1 AND seq > $2),
                         (SELECT version FROM conversations WHERE id = $1), 0) AS version`,
        [conversationId, seq],
      ),
    );
    return Number(row!.version);
  }

  /** Every message of a conversation, in pages, for exports of any size. */
  async *stream(conversationId: string, { afterSeq = 0, pageSize = 500 }: { afterSeq?: number; pageSize?: number } = {}): AsyncGenerator<MessageEntity[]> {
    for (;;) {
      const { items, hasMore } = await this.history(conversationId, { limit: pageSize, afterSeq });
      if (items.length) yield items;
      if (!hasMore || !items.length) return;
      afterSeq = items.at(-1)!.seq;
    }
  }

  /** Within a versioned change (ConversationsRepository.versioned); undefined if the message is gone. */
  async edit(conversationId: string, id: string, content: string, version: number, manager: EntityManager): Promise<MessageEntity | undefined> {
    const rows = rowsOf<MessageRow>(await manager.query(
      `UPDATE messages SET content = $3, edited_at = now(), version = $4
       WHERE conversation_id = $1 AND id = $2 AND deleted_at IS NULL RETURNING ${COLUMNS}`,
      [conversationId, id, content, version],
    ));
    return rows[0] && toEntity(rows[0]);
  }

  /**
   * A reply's final state, within its run's versioned end: the text (when given) with its status
   * and metadata. A reply deleted while it streamed stays erased: only its status still follows the run.
   */
  async finalizeReply(
    id: string,
    fields: { content?: string; status: MessageStatus; metadata: MessageMetadata },
    version: number,
    manager: EntityManager,
  ): Promise<MessageEntity | undefined> {
    const rows = rowsOf<MessageRow>(
      await manager.query(
        `UPDATE messages SET
           content = CASE WHEN deleted_at IS NULL THEN coalesce($2, content) ELSE content END,
           status = $3,
           metadata = CASE WHEN deleted_at IS NULL THEN $4::jsonb ELSE metadata END,
           version = $5
         WHERE id = $1 RETURNING ${COLUMNS}`,
        [id, fields.content ?? null, fields.status, JSON.stringify(fields.metadata), version],
      ),
    );
    return rows[0] && toEntity(rows[0]);
  }

  /**
   * A checkpoint of a streaming reply: the text published so far and the index of the last delta
   * in it, written in one statement so that no reader sees one without the other. Not a change
   * clients follow by version (they follow the deltas), and only while the reply streams.
   */
  async checkpointReply(id: string, content: string, index: number, manager: EntityManager = this.dataSource.manager): Promise<void> {
    // A reply deleted while it streamed stays erased, and one already final keeps its final text.
    await manager.query(
      `UPDATE messages SET content = $2, stream_index = $3 WHERE id = $1 AND status = 'streaming' AND deleted_at IS NULL`,
      [id, content, index],
    );
  }

  /**
   * The last checkpoint of a reply that is still streaming: its text and the index of the last
   * delta in it. Undefined once the reply has its final text (the run is ending).
   */
  async streamCheckpoint(id: string): Promise<{ content: string; index: number } | undefined> {
    const [row] = rowsOf<{ content: string; stream_index: number | null; deleted: boolean }>(
      await this.dataSource.query(
        `SELECT content, stream_index, deleted_at IS NOT NULL AS deleted FROM messages WHERE id = $1 AND status = 'streaming'`,
        [id],
      ),
    );
    if (!row) return undefined;
    // Not checkpointed yet, or erased while streaming: none of its text is stored.
    if (row.stream_index === null || row.deleted) return { content: '', index: -1 };
    return { content: row.content, index: row.stream_index };
  }

  /**
   * Moves a reply's feedback counts by the given amounts, within a versioned change: the counts
   * are what participants see of feedback. Undefined if the message is gone.
   */
  async countFeedback(
    conversationId: string,
    id: string,
    delta: { up: number; down: number },
    version: number,
    manager: EntityManager,
  ): Promise<MessageEntity | undefined> {
    const rows = rowsOf<MessageRow>(await manager.query(
      `UPDATE messages SET feedback_up = feedback_up + $3, feedback_down = feedback_down + $4, version = $5
       WHERE conversation_id = $1 AND id = $2 RETURNING ${COLUMNS}`,
      [conversationId, id, delta.up, delta.down, version],
    ));
    return rows[0] && toEntity(rows[0]);
  }

  /** The reply's first text has reached clients: its run's time to first token, set once. */
  async recordFirstToken(runId: string): Promise<void> {
    await this.dataSource.query(`UPDATE agent_runs SET first_token_at = now() WHERE id = $1 AND first_token_at IS NULL`, [runId]);
  }

  async countByRole(conversationId: string): Promise<Record<string, number>> {
    const rows: { role: string; count: number }[] = await this.dataSource.query(
      `SELECT role, count(*)::int AS count FROM messages WHERE conversation_id = $1 AND deleted_at IS NULL GROUP BY role`,
      [conversationId],
    );
    return Object.fromEntries(rows.map((row) => [row.role, row.count]));
  }

  /**
   * Soft delete, within a versioned change: the row (and its seq) stays as a tombstone; the text is
   * erased. Undefined if the message is gone or already deleted.
   */
  async softDelete(conversationId: string, id: string, version: number, manager: EntityManager): Promise<MessageEntity | undefined> {
    const rows = rowsOf<MessageRow>(await manager.query(
      `UPDATE messages SET content = '', metadata = '{}', attachments = '[]', deleted_at = now(), version = $3
       WHERE conversation_id = $1 AND id = $2 AND deleted_at IS NULL RETURNING ${COLUMNS}`,
      [conversationId, id, version],
    ));
    return rows[0] && toEntity(rows[0]);
  }

  /**
   * Erasure: the messages an account wrote, or the replies of the given runs, become tombstones
   * like a soft delete, and lose their idempotency key too. Each one that changes (a live message,
   * or a tombstone that still had its key) takes the next version of its conversation. Returns
   * those (to announce) and every conversation touched.
   */
  async erase(
    target: { authorId: string } | { runIds: string[] },
    manager: EntityManager,
  ): Promise<{ deleted: { conversationId: string; id: string; seq: number; version: number }[]; conversationIds: string[] }> {
    const [condition, parameter] = 'authorId' in target ? ['author_id = $1', target.authorId] : ['run_id = ANY($1::uuid[])', target.runIds];
    const rows = rowsOf<{ id: string; conversation_id: string; seq: number; version: string; changes: boolean }>(
      await manager.query(
        `WITH target AS (
           SELECT id, conversation_id, seq, (deleted_at IS NULL OR client_message_id IS NOT NULL) AS changes
           FROM messages WHERE ${condition} FOR UPDATE
         ), counts AS (
           SELECT conversation_id, count(*) AS n FROM target WHERE changes GROUP BY conversation_id
         ), bumped AS (
           UPDATE conversations c SET version = c.version + counts.n FROM counts WHERE c.id = counts.conversation_id
           RETURNING c.id, c.version - counts.n AS base
         ), numbered AS (
           SELECT target.id, target.changes,
                  bumped.base + row_number() OVER (PARTITION BY target.conversation_id, target.changes ORDER BY target.seq) AS version
           FROM target LEFT JOIN bumped ON bumped.id = target.conversation_id
         )
         UPDATE messages m SET content = '', metadata = '{}', attachments = '[]', client_message_id = NULL, deleted_at = coalesce(m.deleted_at, now()),
           version = CASE WHEN numbered.changes THEN numbered.version ELSE m.version END
         FROM numbered WHERE m.id = numbered.id
         RETURNING m.id, m.conversation_id, m.seq, m.version, numbered.changes`,
        [parameter],
      ),
    );
    return {
      deleted: rows
        .filter((row) => row.changes)
        .map((row) => ({ conversationId: row.conversation_id, id: row.id, seq: row.seq, version: Number(row.version) })),
      conversationIds: [...new Set(rows.map((row) => row.conversation_id))],
    };
  }

  /**
   * Full-text search over the messages of the conversations the user takes part in (or of just
   * `conversationId`, still only if they take part in it), ranked, with highlighted excerpts.
   * Matches are marked with the given delimiters (no double quote in them), for the caller to render.
   */
  async search(
    userId: string,
    query: string,
    limit: number,
    marks: { start: string; stop: string },
    scope: MessageSearchScope = {},
  ): Promise<SearchRow[]> {
    const rows: (MessageRow & { conversation_title: string; rank: number; snippet: string })[] = await this.dataSource.query(
      `SELECT hit.*, ts_headline('${SEARCH_CONFIG}', hit.content, websearch_to_tsquery('${SEARCH_CONFIG}', $2), $4) AS snippet
       FROM (
         SELECT ${M_COLUMNS}, c.title AS conversation_title,
                ts_rank_cd(m.search_vector, websearch_to_tsquery('${SEARCH_CONFIG}', $2)) AS rank
         FROM messages m
         JOIN conversation_participants p ON p.conversation_id = m.conversation_id AND p.user_id = $1
         JOIN conversations c ON c.id = m.conversation_id AND c.deleted_at IS NULL
         WHERE m.search_vector @@ websearch_to_tsquery('${SEARCH_CONFIG}', $2) AND m.deleted_at IS NULL
           AND ($5::uuid IS NULL OR m.conversation_id = $5::uuid OR ($6::boolean AND m.author_id = $1))
         ORDER BY rank DESC, m.created_at DESC
         LIMIT $3
       ) hit
       ORDER BY hit.rank DESC, hit.created_at DESC`,
      // Quoted: an unquoted empty delimiter makes ts_headline take the next comma as the value.
      [userId, query, limit, `StartSel="${marks.start}", StopSel="${marks.stop}", MaxWords=30, MinWords=10, MaxFragments=2`, scope.conversationId ?? null, scope.ownMessagesElsewhere ?? false],
    );
    return rows.map((row) => ({ message: toEntity(row), conversationTitle: row.conversation_title, rank: Number(row.rank), snippet: row.snippet }));
  }

  /** Messages the user wrote, across all conversations, in pages (data export). */
  async *streamAuthoredBy(authorId: string, pageSize = 500): AsyncGenerator<MessageEntity[]> {
    let after = { conversationId: '00000000-0000-0000-0000-000000000000', seq: 0 };
    for (;;) {
      const rows: MessageRow[] = await this.dataSource.query(
        `SELECT ${COLUMNS} FROM messages WHERE author_id = $1 AND (conversation_id, seq) > ($2::uuid, $3::int)
         ORDER BY conversation_id, seq LIMIT $4`,
        [authorId, after.conversationId, after.seq, pageSize],
      );
      if (rows.length) yield rows.map(toEntity);
      if (rows.length < pageSize) return;
      const last = rows.at(-1)!;
      after = { conversationId: last.conversation_id, seq: last.seq };
    }
  }
}
