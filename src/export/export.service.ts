import { Readable } from 'node:stream';
import { Injectable } from '@nestjs/common';
import type { AuthUser } from '../common/auth/auth-user.js';
import { ConversationsService } from '../conversations/conversations.service.js';
import { ConversationDto } from '../conversations/dto/conversation.dto.js';
import { DocumentsService } from '../documents/documents.service.js';
import { UserDto } from '../users/dto/user.dto.js';
import { UsersRepository } from '../users/users.repository.js';
import { UsersService } from '../users/users.service.js';
import { MessageDto } from '../messages/dto/message.dto.js';
import type { MessageEntity } from '../messages/message.entity.js';
import { MessagesRepository } from '../messages/messages.repository.js';
import { ExportedDocumentDto } from './dto/export.dto.js';

/**
 * Data portability. Exports are streamed page by page, so a conversation of any length, or an
 * account of any size, is exported in constant memory.
 */
@Injectable()
export class ExportService {
  constructor(
    private readonly conversations: ConversationsService,
    private readonly messages: MessagesRepository,
    private readonly users: UsersRepository,
    private readonly usersService: UsersService,
    private readonly documents: DocumentsService,
  ) {}

  async conversation(user: AuthUser, conversationId: string, format: 'json' | 'markdown'): Promise<Readable> {
    const { view } = await this.conversations.authorize(conversationId, user, 'read');
    const conversation = ConversationDto.from(view, user.id);
    const pages = this.messages.stream(conversationId);
    return Readable.from(format === 'markdown' ? this.markdown(conversation, pages) : this.json({ conversation }, [['messages', mapPages(pages, MessageDto.from)]]));
  }

  /** Everything the service holds about the caller: profile, conversations, messages they wrote, documents they uploaded. */
  async account(user: AuthUser): Promise<Readable> {
    const profile = UserDto.from(await this.usersService.getActive(user.id));
    const conversations: ConversationDto[] = [];
    for (const archived of [false, true]) {
      let cursor: string | undefined;
      do {
        const page = await this.conversations.list(user, { archived, limit: 100, ...(cursor && { cursor }) });
        conversations.push(...page.items);
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
    }
    return Readable.from(
      this.json({ user: profile, conversations }, [
        ['messages', mapPages(this.messages.streamAuthoredBy(user.id), MessageDto.from)],
        ['documents', mapPages(this.documents.streamOwnedBy(user.id), ExportedDocumentDto.from)],
      ]),
    );
  }

  /** `head`'s fields, then each list streamed page by page, in one JSON object. */
  private async *json(head: Record<string, unknown>, lists: [name: string, pages: AsyncGenerator<unknown[]>][]): AsyncGenerator<string> {
    const opening = JSON.stringify({ exportedAt: new Date().toISOString(), ...head });
    let separator = opening.slice(0, -1);
    for (const [name, pages] of lists) {
      yield `${separator},${JSON.stringify(name)}:[`;
      let first = true;
      for await (const page of pages) {
        for (const item of page) {
          yield `${first ? '' : ','}${JSON.stringify(item)}`;
          first = false;
        }
      }
      separator = ']';
    }
    yield ']}\n';
  }

  private async *markdown(conversation: ConversationDto, pages: AsyncGenerator<MessageEntity[]>): AsyncGenerator<string> {
    yield `# ${conversation.title || 'Untitled conversation'}\n\n_Exported ${new Date().toISOString()}_\n`;
    for await (const page of pages) {
      const names = await this.users.findDisplayNames(page.map((m) => m.authorId));
      let chunk = '';
      for (const message of page) {
        const author = message.authorId ? (names.get(message.authorId) ?? 'Unknown user') : message.role === 'assistant' ? 'Agent' : message.role;
        const body = message.deletedAt ? '_(deleted)_' : message.content;
        chunk += `\n---\n\n**${author}** · ${message.createdAt.toISOString()}${message.editedAt ? ' (edited)' : ''}\n\n${body}\n`;
      }
      yield chunk;
    }
  }
}

async function* mapPages<T, R>(pages: AsyncGenerator<T[]>, map: (item: T) => R): AsyncGenerator<R[]> {
  for await (const page of pages) yield page.map((item) => map(item));
}
