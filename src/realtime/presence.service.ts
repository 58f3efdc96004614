import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { INSTANCE_ID } from './instance.js';
import { RedisConnection } from './redis.connection.js';

const KEY_PREFIX = 'agentchat:presence:';
/** Each instance rewrites its share this often; a share older than FRESH_MS (a dead instance) is ignored. */
const HEARTBEAT_MS = 10_000;
const FRESH_MS = 30_000;

/**
 * Who is online in which conversation: a user is online while any of their sockets, on any
 * instance, has joined it. Each instance tracks its own sockets; with Redis it also keeps its
 * share in a hash per conversation, and the online list is the union of the fresh shares.
 */
@Injectable()
export class PresenceService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('Presence');
  private readonly rooms = new Map<string, Map<string, Set<string>>>();
  private connected = 0;
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(private readonly redis: RedisConnection) {}

  onModuleInit(): void {
    if (!this.redis.enabled) return;
    this.heartbeat = setInterval(() => {
      for (const conversationId of this.rooms.keys()) void this.writeShare(conversationId, false).catch(() => undefined);
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.heartbeat);
    const client = this.redis.client;
    if (!client?.isReady) return;
    await Promise.allSettled([...this.rooms.keys()].map((conversationId) => client.hDel(KEY_PREFIX + conversationId, INSTANCE_ID)));
  }

  get connectedSockets(): number {
    return this.connected;
  }

  connect(): void {
    this.connected++;
  }

  disconnect(): void {
    this.connected = Math.max(0, this.connected - 1);
  }

  /** Returns true when this made the user newly online on this instance. */
  join(conversationId: string, userId: string, socketId: string): boolean {
    let users = this.rooms.get(conversationId);
    if (!users) this.rooms.set(conversationId, (users = new Map()));
    let sockets = users.get(userId);
    const wasOnline = Boolean(sockets?.size);
    if (!sockets) users.set(userId, (sockets = new Set()));
    sockets.add(socketId);
    return !wasOnline;
  }

  /** Returns true when this took the user offline on this instance. */
  leave(conversationId: string, userId: string, socketId: string): boolean {
    const users = this.rooms.get(conversationId);
    const sockets = users?.get(userId);
    if (!users || !sockets?.delete(socketId)) return false;
    if (sockets.size) return false;
    users.delete(userId);
    if (!users.size) this.rooms.delete(conversationId);
    return true;
  }

  /** Removes all of a user's sockets on this instance from a conversation. */
  evict(conversationId: string, userId: string): boolean {
    const users = this.rooms.get(conversationId);
    const removed = users?.delete(userId) ?? false;
    if (users && !users.size) this.rooms.delete(conversationId);
    return removed;
  }

  private localOnline(conversationId: string): string[] {
    return [...(this.rooms.get(conversationId)?.keys() ?? [])];
  }

  /** The users online in the conversation across all instances (this one's alone while Redis is down). */
  async online(conversationId: string): Promise<string[]> {
    const local = this.localOnline(conversationId);
    if (!this.redis.client?.isReady) return local.sort();
    try {
      const shares = await this.writeShare(conversationId);
      const now = Date.now();
      const users = new Set(local);
      for (const [instance, raw] of Object.entries(shares)) {
        if (instance === INSTANCE_ID) continue;
        const share = JSON.parse(raw) as { at: number; users: string[] };
        if (now - share.at < FRESH_MS) for (const user of share.users) users.add(user);
      }
      return [...users].sort();
    } catch (error) {
      this.logger.warn(`Presence from Redis unavailable: ${String(error)}`);
      return local.sort();
    }
  }

  /** Writes this instance's share of the conversation and, if asked (not for heartbeats), returns every instance's share. */
  private async writeShare(conversationId: string, read = true): Promise<Record<string, string>> {
    const client = this.redis.client!;
    const key = KEY_PREFIX + conversationId;
    const users = this.localOnline(conversationId);
    const multi = client.multi();
    if (users.length) multi.hSet(key, INSTANCE_ID, JSON.stringify({ at: Date.now(), users }));
    else multi.hDel(key, INSTANCE_ID);
    multi.pExpire(key, FRESH_MS * 2);
    if (read) multi.hGetAll(key);
    const replies = await multi.exec();
    return read ? ((replies.at(-1) ?? {}) as unknown as Record<string, string>) : {};
  }
}
