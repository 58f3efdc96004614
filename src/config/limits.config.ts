import { type Env, readInt } from './env.js';

/** The most ATTACHMENTS_MAX may allow: every attachment is read in full for each run. */
export const MAX_ATTACHMENTS = 20;

export interface LimitSettings {
  messageMaxLength: number;
  messageRateLimit: number;
  messageRateWindowMs: number;
  /** Feedback changes (rating, changing, removing) one user may make per minute. */
  feedbackRateLimit: number;
  /**
   * Largest body of `POST /api/v1/chat`: useChat posts its whole copy of the conversation, of
   * which only the last message is read.
   */
  chatBodyLimit: number;
  /** Deepest nesting of arrays and objects accepted in a JSON payload. */
  jsonMaxDepth: number;
  /** Largest Socket.IO frame; a bigger one drops only the socket that sent it. */
  wsMaxBufferBytes: number;
  wsPingIntervalMs: number;
  wsPingTimeoutMs: number;
  /** Client events per socket: tokens regained per second, and the burst a quiet socket may send. */
  wsEventRatePerSecond: number;
  wsEventBurst: number;
  /** Refused events (net of the refill) after which a socket is disconnected as a flood; 0 never. */
  wsFloodDisconnectAfter: number;
  /** Socket.IO connections per user and minute: each new socket would bring a fresh event budget. */
  wsConnectRateLimit: number;
  /** Sockets one user may hold open at once on this instance. */
  wsMaxSocketsPerUser: number;
  /** Bytes waiting to be written to one socket past which it is disconnected: a client that stops reading. */
  wsMaxBacklogBytes: number;
  /** Event streams (SSE, useChat) one user may hold open at once on this instance. */
  sseMaxStreamsPerUser: number;
  /** One recovery page (conversation:join with afterSeq): at most this many messages and bytes. */
  recoveryPageMessages: number;
  recoveryPageBytes: number;
  /** Memory for recently read pages of history (HistoryPages), in bytes; 0 holds none. */
  historyCacheBytes: number;
  /** Largest upload: any document, and images (which go to models whole). */
  documentMaxBytes: number;
  imageMaxBytes: number;
  /** Uploads one user may have under way at once (per instance); 429 beyond. */
  uploadsPerUserAtOnce: number;
  /** An upload that sends no byte for this long is given up (408). */
  uploadIdleTimeoutMs: number;
  /** Documents one message may carry as attachments. */
  attachmentsMax: number;
  /**
   * How long a run waits for an attached document that is still being processed before it answers
   * without that document's text (and says so).
   */
  attachmentWaitMs: number;
  /**
   * What one user may keep: every document they uploaded that still exists (their private library
   * and their uploads to conversations, also ones they left), in bytes and in number.
   */
  documentQuotaBytesPerUser: number;
  documentsPerUser: number;
  /** What one conversation may hold, whoever uploaded it. */
  documentQuotaBytesPerConversation: number;
  documentsPerConversation: number;
  /** Documents whose text is extracted at once on this instance, each in a worker process. */
  documentExtractionConcurrency: number;
  /** Time one document's extraction may take before its worker process is killed and the document fails. */
  documentExtractionTimeoutMs: number;
  /** Heap of one extraction worker process: a file that needs more fails, the server does not. */
  documentExtractionMemoryMb: number;
  /** Characters of text indexed per document; the rest is not read (the document says so). */
  documentMaxTextChars: number;
  /** Chunks indexed per document; the rest of its text is not (the document says so). */
  documentMaxChunks: number;
  /** MCP tools offered to the model in all (providers refuse more than 128 tools, built-ins included). */
  mcpMaxTools: number;
}

export function parseLimitSettings(env: Env): LimitSettings {
  return {
    messageMaxLength: readInt(env, 'MESSAGE_MAX_LENGTH', 16_000, { min: 1, max: 1_000_000 }),
    messageRateLimit: readInt(env, 'MESSAGE_RATE_LIMIT', 30, { min: 1, max: 1_000_000 }),
    messageRateWindowMs: readInt(env, 'MESSAGE_RATE_WINDOW_SECONDS', 10, { min: 1, max: 3600 }) * 1000,
    feedbackRateLimit: readInt(env, 'FEEDBACK_RATE_LIMIT', 60, { min: 1, max: 1_000_000 }),
    chatBodyLimit: readInt(env, 'CHAT_BODY_LIMIT', 4 * 1024 * 1024, { min: 64 * 1024, max: 64 * 1024 * 1024 }),
    jsonMaxDepth: readInt(env, 'JSON_MAX_DEPTH', 32, { min: 2, max: 1000 }),
    wsMaxBufferBytes: readInt(env, 'WS_MAX_BUFFER_BYTES', 64 * 1024, { min: 1024, max: 16 * 1024 * 1024 }),
    // Below the 60 s idle timeout of common proxies and load balancers.
    wsPingIntervalMs: readInt(env, 'WS_PING_INTERVAL_MS', 25_000, { min: 1000, max: 300_000 }),
    wsPingTimeoutMs: readInt(env, 'WS_PING_TIMEOUT_MS', 20_000, { min: 1000, max: 300_000 }),
    wsEventRatePerSecond: readInt(env, 'WS_EVENT_RATE', 20, { min: 1, max: 100_000 }),
    // A reconnecting client re-joins every open conversation at once: the burst must hold that.
    wsEventBurst: readInt(env, 'WS_EVENT_BURST', 100, { min: 1, max: 100_000 }),
    wsFloodDisconnectAfter: readInt(env, 'WS_FLOOD_DISCONNECT_AFTER', 200, { min: 0, max: 10_000_000 }),
    wsConnectRateLimit: readInt(env, 'WS_CONNECT_RATE_LIMIT', 30, { min: 1, max: 1_000_000 }),
    wsMaxSocketsPerUser: readInt(env, 'WS_MAX_SOCKETS_PER_USER', 20, { min: 1, max: 1_000_000 }),
    // Above a full recovery page (2 MB) plus the backlog at which pages are refused (1 MB).
    wsMaxBacklogBytes: readInt(env, 'WS_MAX_BACKLOG_BYTES', 8 * 1024 * 1024, { min: 4 * 1024 * 1024, max: 1024 * 1024 * 1024 }),
    sseMaxStreamsPerUser: readInt(env, 'SSE_MAX_STREAMS_PER_USER', 20, { min: 1, max: 1_000_000 }),
    recoveryPageMessages: readInt(env, 'RECOVERY_PAGE_MESSAGES', 500, { min: 1, max: 500 }),
    recoveryPageBytes: readInt(env, 'RECOVERY_PAGE_BYTES', 2 * 1024 * 1024, { min: 64 * 1024, max: 2 * 1024 * 1024 }),
    historyCacheBytes: readInt(env, 'HISTORY_CACHE_MB', 32, { min: 0, max: 65_536 }) * 1024 * 1024,
    documentMaxBytes: readInt(env, 'DOCUMENT_MAX_BYTES', 10 * 1024 * 1024, { min: 1024, max: 1024 * 1024 * 1024 }),
    imageMaxBytes: readInt(env, 'IMAGE_MAX_BYTES', 5 * 1024 * 1024, { min: 1024, max: 1024 * 1024 * 1024 }),
    uploadsPerUserAtOnce: readInt(env, 'UPLOADS_PER_USER_AT_ONCE', 3, { min: 1, max: 1000 }),
    uploadIdleTimeoutMs: readInt(env, 'UPLOAD_IDLE_TIMEOUT_MS', 30_000, { min: 100, max: 3_600_000 }),
    attachmentsMax: readInt(env, 'ATTACHMENTS_MAX', 5, { min: 0, max: MAX_ATTACHMENTS }),
    attachmentWaitMs: readInt(env, 'ATTACHMENT_WAIT_MS', 15_000, { min: 0, max: 600_000 }),
    documentQuotaBytesPerUser: readInt(env, 'DOCUMENT_QUOTA_BYTES_PER_USER', 100 * 1024 * 1024, { min: 1024, max: 1024 ** 4 }),
    documentsPerUser: readInt(env, 'DOCUMENTS_PER_USER', 500, { min: 1, max: 10_000_000 }),
    documentQuotaBytesPerConversation: readInt(env, 'DOCUMENT_QUOTA_BYTES_PER_CONVERSATION', 100 * 1024 * 1024, { min: 1024, max: 1024 ** 4 }),
    documentsPerConversation: readInt(env, 'DOCUMENTS_PER_CONVERSATION', 200, { min: 1, max: 10_000_000 }),
    documentExtractionConcurrency: readInt(env, 'DOCUMENT_EXTRACTION_CONCURRENCY', 2, { min: 1, max: 64 }),
    documentExtractionTimeoutMs: readInt(env, 'DOCUMENT_EXTRACTION_TIMEOUT_MS', 60_000, { min: 100, max: 3_600_000 }),
    documentExtractionMemoryMb: readInt(env, 'DOCUMENT_EXTRACTION_MEMORY_MB', 512, { min: 64, max: 65_536 }),
    documentMaxTextChars: readInt(env, 'DOCUMENT_MAX_TEXT_CHARS', 2_000_000, { min: 1000, max: 100_000_000 }),
    documentMaxChunks: readInt(env, 'DOCUMENT_MAX_CHUNKS', 5000, { min: 1, max: 10_000_000 }),
    mcpMaxTools: readInt(env, 'MCP_MAX_TOOLS', 96, { min: 0, max: 128 }),
  };
}
