export * from './wire.js';
export { createClient, type AuthHooks, type RestClient, type RestOptions, type Schema, type components, type paths } from './rest.js';
export { connectChat, emitAck, type AckOptions, type ChatSocket, type ChatSocketOptions } from './socket.js';
export { createMemoryLocks, createStorageLocks, defaultLocks, type Locks, type StorageLocksOptions } from './locks.js';
export { localStorageTokens, memoryTokens, SignedOutError, TokenSession, type Tokens, type TokenSessionOptions, type TokenStorage } from './tokens.js';
export { comparable, ConversationState, isDeleted, isTombstone, type ReplyText, type SyncAnomaly, type SyncedMessage, type SyncObserver, type Tombstone } from './sync/state.js';
export { applyServerEvent, SYNC_EVENTS, type ServerEventFrame } from './sync/events.js';
export { readChanges, type ChangesPage } from './sync/changes.js';
export { ConversationSync, type ConversationSyncOptions, type JoinError } from './sync/conversation-sync.js';
