import { HttpStatus, Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import type { AuthUser } from '../common/auth/auth-user.js';
import type { RequestMeta } from '../common/http/request-meta.js';
import { decodeCursor, encodeCursor } from '../common/pagination/cursor.js';
import { AppError, ErrorCode, fieldError } from '../common/errors.js';
import { agentChoiceErrors } from '../config/agent.config.js';
import { AppConfig } from '../config/app-config.js';
import { RealtimeBus } from '../realtime/realtime-bus.js';
import { UsersRepository } from '../users/users.repository.js';
import { ConversationCache } from './conversation-cache.js';
import { ConversationDeletion } from './conversation-deletion.js';
import type { ConversationView, ParticipantView } from './conversation.view.js';
import { ConversationsRepository } from './conversations.repository.js';
import {
  type AddParticipantDto,
  type AgentSettingsDto,
  ConversationDto,
  type ConversationPageDto,
  type CreateConversationDto,
  type ListConversationsQuery,
  type UpdateConversationDto,
} from './dto/conversation.dto.js';

/** What the caller wants to do; each needs a participant role at least this strong. */
export type Access = 'read' | 'send' | 'manage';

export interface ConversationAccess {
  view: ConversationView;
  participant: ParticipantView;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function conversationNotFound(): AppError {
  return new AppError(HttpStatus.NOT_FOUND, 'CONVERSATION_NOT_FOUND', 'Conversation not found');
}

function agentColumns(agent: AgentSettingsDto | undefined) {
  if (!agent) return {};
  return {
    ...(agent.mode !== undefined && { agentMode: agent.mode }),
    ...(agent.provider !== undefined && { agentProvider: agent.provider }),
    ...(agent.model !== undefined && { agentModel: agent.model }),
    ...(agent.systemPrompt !== undefined && { agentSystemPrompt: agent.systemPrompt }),
    ...(agent.tools !== undefined && { agentTools: agent.tools }),
  };
}

/**
 * Conversations and who may do what in them. Owners manage participants and settings and may
 * delete; members read and send; viewers only read. To anyone else a conversation does not
 * exist (404, never 403), admins included.
 */
@Injectable()
export class ConversationsService {
  constructor(
    private readonly conversations: ConversationsRepository,
    private readonly users: UsersRepository,
    private readonly bus: RealtimeBus,
    private readonly cache: ConversationCache,
    private readonly config: AppConfig,
    private readonly deletion: ConversationDeletion,
    private readonly audit: AuditService,
  ) {}

  /** Only providers the operator configured, and only models AGENT_ALLOWED_MODELS lists: each one spends the operator's key. */
  private checkAgentChoice(current: { provider: string | null; model: string | null }, agent: AgentSettingsDto | undefined): void {
    if (agent?.provider === undefined && agent?.model === undefined) return;
    const provider = agent.provider === undefined ? current.provider : agent.provider;
    const model = agent.model === undefined ? current.model : agent.model;
    const errors = agentChoiceErrors(this.config.agent, provider, model);
    if (errors) throw new AppError(HttpStatus.BAD_REQUEST, ErrorCode.VALIDATION, 'Validation failed', errors);
  }

  /** The access policy, in one place: 404 for outsiders, 403 for a role that is too weak. */
  async authorize(conversationId: string, user: Pick<AuthUser, 'id'>, access: Access): Promise<ConversationAccess> {
    const view = await this.cache.getOrLoad(conversationId, (id) => this.conversations.findView(id));
    const participant = view?.participants.find((candidate) => candidate.userId === user.id);
    if (!view || !participant) throw conversationNotFound();
    const allowed =
      access === 'read' ||
      (access === 'send' && participant.role !== 'viewer') ||
      (access === 'manage' && participant.role === 'owner');
    if (!allowed) {
      const message = access === 'send' ? 'Viewers cannot send messages' : 'Only the owner can do this';
      throw new AppError(HttpStatus.FORBIDDEN, ErrorCode.FORBIDDEN, message);
    }
    return { view, participant };
  }

  async create(user: AuthUser, dto: CreateConversationDto): Promise<ConversationDto> {
    this.checkAgentChoice({ provider: null, model: null }, dto.agent);
    const memberIds = [...new Set(dto.participantIds ?? [])].filter((id) => id !== user.id);
    const existing = await this.users.findActiveIds(memberIds);
    const unknown = memberIds.filter((id) => !existing.has(id));
    if (unknown.length) {
      throw fieldError('participantIds', `unknown users: ${unknown.join(', ')}`);
    }
    const id = await this.conversations.create(
      {
        ownerId: user.id,
        title: dto.title ?? '',
        agentMode: dto.agent?.mode ?? 'auto',
        agentProvider: dto.agent?.provider ?? null,
        agentModel: dto.agent?.model ?? null,
        agentSystemPrompt: dto.agent?.systemPrompt ?? null,
        agentTools: dto.agent?.tools ?? null,
      },
      memberIds.map((userId) => ({ userId, role: 'member' as const })),
    );
    return ConversationDto.from(await this.publishUpdated(id), user.id);
  }

  async list(user: AuthUser, query: ListConversationsQuery): Promise<ConversationPageDto> {
    const after = query.cursor
      ? decodeCursor<[string, string]>(
          query.cursor,
          (values): values is [string, string] =>
            values.length === 2 &&
            typeof values[0] === 'string' &&
            !Number.isNaN(Date.parse(values[0])) &&
            typeof values[1] === 'string' &&
            UUID.test(values[1]),
        )
      : undefined;
    const { views, last } = await this.conversations.listForUser(user.id, {
      limit: query.limit ?? 50,
      archived: query.archived ?? false,
      ...(query.q?.trim() && { q: query.q.trim() }),
      ...(after && { after: { activity: after[0], id: after[1] } }),
    });
    return {
      items: views.map((view) => ConversationDto.from(view, user.id)),
      nextCursor: last ? encodeCursor([last.activity, last.id]) : null,
    };
  }

  /** The newest version and seq as stored now, past the cache (0 for a conversation that does not exist). */
  async progress(id: string): Promise<{ version: number; lastSeq: number }> {
    const view = await this.conversations.findView(id);
    return { version: view?.version ?? 0, lastSeq: view?.lastSeq ?? 0 };
  }

  async get(user: AuthUser, id: string): Promise<ConversationDto> {
    const { view } = await this.authorize(id, user, 'read');
    return ConversationDto.from(view, user.id);
  }

  /** Title and agent settings are the owner's; pin and archive are each participant's own. */
  async update(user: AuthUser, id: string, dto: UpdateConversationDto): Promise<ConversationDto> {
    const changesSettings = dto.title !== undefined || dto.agent !== undefined;
    const { view } = await this.authorize(id, user, changesSettings ? 'manage' : 'read');
    this.checkAgentChoice(view.agent, dto.agent);
    const settings = { ...(dto.title !== undefined && { title: dto.title }), ...agentColumns(dto.agent) };
    const flags = { ...(dto.archived !== undefined && { archived: dto.archived }), ...(dto.pinned !== undefined && { pinned: dto.pinned }) };
    if (!Object.keys(settings).length) {
      // Pin and archive are the caller's own: they change nothing the others see, and take no version.
      await this.conversations.setParticipantFlags(id, user.id, flags);
      return ConversationDto.from(await this.publishUpdated(id), user.id);
    }
    // With settings, the caller's flags go in the same transaction: one version, all or nothing.
    const updated = await this.changeVersioned(id, async (manager) => {
      await this.conversations.updateSettings(id, settings, manager);
      await this.conversations.setParticipantFlags(id, user.id, flags, manager);
      return true;
    });
    if (!updated) throw conversationNotFound();
    return ConversationDto.from(updated, user.id);
  }

  async remove(user: AuthUser, id: string): Promise<void> {
    await this.authorize(id, user, 'manage');
    await this.conversations.softDelete(id, (manager) => this.deletion.run(id, manager));
    this.bus.publish({ type: 'conversation.deleted', conversationId: id });
  }

  async addParticipant(user: AuthUser, id: string, dto: AddParticipantDto, request?: RequestMeta): Promise<ConversationDto> {
    const { view } = await this.authorize(id, user, 'manage');
    if (dto.userId === view.ownerId) {
      throw new AppError(HttpStatus.CONFLICT, ErrorCode.CONFLICT, 'The owner is already a participant');
    }
    if (!(await this.users.findActiveIds([dto.userId])).has(dto.userId)) {
      throw new AppError(HttpStatus.NOT_FOUND, 'USER_NOT_FOUND', 'User not found');
    }
    const changed = await this.changeVersioned(id, async (manager) => {
      const upserted = await this.conversations.upsertParticipant(id, dto.userId, dto.role, manager);
      if (!upserted) return undefined;
      const { previousRole } = upserted;
      const details = { role: dto.role, previousRole };
      const action = previousRole === null ? 'participant.added' : 'participant.role_changed';
      await this.audit.record({ action, actorId: user.id, target: { type: 'user', id: dto.userId }, conversationId: id, details, request }, manager);
      return true;
    });
    return ConversationDto.from(changed ?? (await this.view(id)), user.id);
  }

  /** The owner removes anyone else; any other participant may remove (only) themselves. */
  async removeParticipant(user: AuthUser, id: string, userId: string, request?: RequestMeta): Promise<void> {
    const { view, participant } = await this.authorize(id, user, 'read');
    if (userId !== user.id && participant.role !== 'owner') {
      throw new AppError(HttpStatus.FORBIDDEN, ErrorCode.FORBIDDEN, 'Only the owner can remove other participants');
    }
    if (userId === view.ownerId) {
      throw new AppError(HttpStatus.CONFLICT, ErrorCode.CONFLICT, 'The owner cannot leave; delete the conversation instead');
    }
    const removed = await this.changeVersioned(
      id,
      async (manager) => {
        if (!(await this.conversations.removeParticipant(id, userId, manager))) return undefined;
        await this.audit.record({ action: 'participant.removed', actorId: user.id, target: { type: 'user', id: userId }, conversationId: id, request }, manager);
        return true;
      },
      () => this.bus.publish({ type: 'participant.removed', conversationId: id, userId }),
    );
    if (!removed) throw new AppError(HttpStatus.NOT_FOUND, 'PARTICIPANT_NOT_FOUND', 'Not a participant of this conversation');
  }

  async markRead(user: AuthUser, id: string, seq: number): Promise<void> {
    await this.authorize(id, user, 'read');
    // A marker that did not move (a repeat, an older seq) changes nothing anyone sees.
    if (await this.conversations.markRead(id, user.id, seq)) await this.publishUpdated(id);
  }

  /** Announces a change of per-user state (read marker, pin, archive), which takes no version. */
  private async publishUpdated(id: string): Promise<ConversationView> {
    const view = await this.view(id);
    this.bus.publish({ type: 'conversation.updated', conversationId: id, conversation: view });
    return view;
  }

  private async view(id: string): Promise<ConversationView> {
    const view = await this.conversations.findView(id);
    if (!view) throw conversationNotFound();
    return view;
  }

  /**
   * Applies a change the participants see under the conversation's next version and announces
   * it with the conversation as of that version (read under the same lock, so nothing later is
   * in it); `before` announces what must be known first. Undefined, and nothing announced, if
   * the change found nothing to do.
   */
  private async changeVersioned(
    id: string,
    change: (manager: EntityManager) => Promise<true | undefined>,
    before?: () => void,
  ): Promise<ConversationView | undefined> {
    const changed = await this.conversations.versioned(id, async (manager) => (await change(manager)) && this.conversations.findView(id, manager));
    if (!changed) return undefined;
    before?.();
    this.bus.publish({ type: 'conversation.updated', conversationId: id, conversation: changed.result, version: changed.version });
    return changed.result;
  }
}
