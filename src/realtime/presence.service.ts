import { Injectable } from '@nestjs/common';

/**
 * Who is online in which conversation: a user is online while any of their sockets has joined
 * it. Also counts connected sockets (admin stats).
 */
@Injectable()
export class PresenceService {
  private readonly rooms = new Map<string, Map<string, Set<string>>>();
  private connected = 0;

  get connectedSockets(): number {
    return this.connected;
  }

  connect(): void {
    this.connected++;
  }

  disconnect(): void {
    this.connected = Math.max(0, this.connected - 1);
  }

  /** Returns true when this made the user newly online there. */
  join(conversationId: string, userId: string, socketId: string): boolean {
    let users = this.rooms.get(conversationId);
    if (!users) this.rooms.set(conversationId, (users = new Map()));
    let sockets = users.get(userId);
    const wasOnline = Boolean(sockets?.size);
    if (!sockets) users.set(userId, (sockets = new Set()));
    sockets.add(socketId);
    return !wasOnline;
  }

  /** Returns true when this took the user offline there. */
  leave(conversationId: string, userId: string, socketId: string): boolean {
    const users = this.rooms.get(conversationId);
    const sockets = users?.get(userId);
    if (!users || !sockets?.delete(socketId)) return false;
    if (sockets.size) return false;
    users.delete(userId);
    if (!users.size) this.rooms.delete(conversationId);
    return true;
  }

  /** Removes all of a user's sockets from a conversation (they were removed from it). */
  evict(conversationId: string, userId: string): boolean {
    return this.rooms.get(conversationId)?.delete(userId) ?? false;
  }

  online(conversationId: string): string[] {
    return [...(this.rooms.get(conversationId)?.keys() ?? [])].sort();
  }
}
