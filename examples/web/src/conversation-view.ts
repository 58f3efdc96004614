import { type ChatSocket, type ConversationDto, ConversationSync, emitAck, type MessageDto, type RunToolPayload, type ServerToClientEvents } from '@agent-chat/client';
import { describeError, rest } from './api.js';
import { byId, fields, h, userLabel } from './dom.js';
import { MessageList } from './message-list.js';

/** How long a typing notice lasts without being renewed (the server's own expiry is 5 s). */
const TYPING_SHOWN_MS = 6_000;
/** While the user keeps typing, `typing:start` is sent again this often. */
const TYPING_RENEW_MS = 3_000;
/** Quiet for this long: `typing:stop`. */
const TYPING_IDLE_MS = 2_000;

/**
 * One open conversation: ConversationSync keeps its messages (joins on every connect, catches up
 * after a disconnect, streams replies); typing and presence are live-only events shown as they come.
 */
export class ConversationView {
  private readonly sync: ConversationSync;
  private readonly messages: MessageList;
  private readonly typists = new Map<string, ReturnType<typeof setTimeout>>();
  private online: string[] = [];
  private readSeq = 0;
  private typingSentAt = 0;
  private typingIdle: ReturnType<typeof setTimeout> | undefined;
  private readonly section = byId('conversation');
  private readonly composer = byId<HTMLFormElement>('composer');
  private readonly addParticipant = byId<HTMLFormElement>('add-participant');
  private readonly list = byId<HTMLOListElement>('messages');
  private readonly off: (() => void)[] = [];

  constructor(
    private readonly socket: ChatSocket,
    private conversation: ConversationDto,
    private readonly me: string,
  ) {
    this.messages = new MessageList(this.list, me, { cancel: (runId) => void this.cancel(runId), edit: (message, content) => this.edit(message, content) });
    this.sync = new ConversationSync({ socket, rest, conversationId: conversation.id, onChange: () => this.render(), onError: (error) => this.showError(error.message) });
    this.on('typing', this.typing);
    this.on('presence', this.presence);
    this.on('run:tool', this.tool);
    this.on('conversation:updated', ({ conversation: updated }) => {
      if (updated.id === this.conversation.id) this.conversation = updated;
      this.renderHeader();
    });
    this.on('message:created', ({ message }) => {
      // A message sent ends its author's typing (the server relays a stop up to 2 s late).
      if (message.authorId && this.typists.has(message.authorId)) this.typing({ conversationId: message.conversationId, userId: message.authorId, isTyping: false });
    });
    this.on('connect', () => this.render());
    this.on('disconnect', () => {
      // Presence and typing are live only: while disconnected nobody is known to be online.
      this.online = [];
      for (const userId of this.typists.keys()) this.typing({ conversationId: this.conversation.id, userId, isTyping: false });
      this.render();
    });
    this.listen(this.composer, 'submit', this.send);
    this.listen(this.composer, 'input', this.typed);
    this.listen(this.addParticipant, 'submit', this.add);
    this.listen(this.list, 'rerender', () => this.render());
    this.section.hidden = false;
    this.section.dataset.conversationId = conversation.id;
    this.render();
  }

  /** Listens to a server event (or the socket's own connect/disconnect) until the view closes. */
  private on<E extends keyof ServerToClientEvents>(event: E, handler: ServerToClientEvents[E]): void;
  private on(event: 'connect' | 'disconnect', handler: () => void): void;
  private on(event: string, handler: (payload: never) => void): void {
    // socket.io-client's overloads cannot follow a generic event name; the signatures above type both ends.
    const socket = this.socket as unknown as { on(e: string, h: unknown): void; off(e: string, h: unknown): void };
    socket.on(event, handler);
    this.off.push(() => socket.off(event, handler));
  }

  private listen(target: EventTarget, type: string, handler: (event: never) => void): void {
    target.addEventListener(type, handler as EventListener);
    this.off.push(() => target.removeEventListener(type, handler as EventListener));
  }

  get conversationId(): string {
    return this.conversation.id;
  }

  private render(): void {
    this.messages.render(this.sync.state);
    this.renderHeader();
    this.markRead();
    this.showLive();
    // A join's answer is applied before its recovery ends (buffered events flushed, no gap left):
    // look again once that has run.
    setTimeout(this.showLive, 0);
  }

  /** Joined and holding every change announced so far, for whoever drives the page (and its tests). */
  private readonly showLive = (): void => {
    this.section.dataset.live = String(this.sync.live);
    this.section.dataset.version = String(this.sync.state.version);
  };

  private renderHeader(): void {
    byId('title').textContent = this.conversation.title ?? 'Untitled';
    const participants = this.conversation.participants.map((p) => p.userId);
    byId('presence').replaceChildren(
      ...participants.map((userId) => {
        const online = this.online.includes(userId);
        return h('li', { 'data-user-id': userId, 'data-online': String(online) }, `${online ? '●' : '○'} ${userLabel(userId, this.me)}`);
      }),
    );
    const names = [...this.typists.keys()].map((userId) => userLabel(userId, this.me));
    const typing = byId('typing');
    typing.dataset.users = [...this.typists.keys()].join(',');
    typing.textContent = names.length ? `${names.join(', ')} ${names.length > 1 ? 'are' : 'is'} typing…` : '';
  }

  /** What is shown has been read: the unread count of this conversation goes to 0 (for this user's other tabs too). */
  private markRead(): void {
    const seq = this.sync.state.visibleMessages().at(-1)?.seq ?? 0;
    if (seq <= this.readSeq || !this.socket.connected) return;
    this.readSeq = seq;
    void emitAck(this.socket, 'conversation:read', { conversationId: this.conversation.id, seq }).catch(() => undefined);
  }

  private readonly typing = ({ conversationId, userId, isTyping }: { conversationId: string; userId: string; isTyping: boolean }): void => {
    if (conversationId !== this.conversation.id) return;
    clearTimeout(this.typists.get(userId));
    this.typists.delete(userId);
    if (isTyping) this.typists.set(userId, setTimeout(() => this.typing({ conversationId, userId, isTyping: false }), TYPING_SHOWN_MS));
    this.renderHeader();
  };

  private readonly presence = ({ conversationId, online }: { conversationId: string; online: string[] }): void => {
    if (conversationId !== this.conversation.id) return;
    this.online = online;
    this.renderHeader();
  };

  private readonly tool = ({ conversationId, runId, name, status }: RunToolPayload): void => {
    if (conversationId !== this.conversation.id || status !== 'started') return;
    this.messages.tools.set(runId, [...(this.messages.tools.get(runId) ?? []), name]);
    this.render();
  };

  private readonly typed = (): void => {
    const now = Date.now();
    if (now - this.typingSentAt > TYPING_RENEW_MS) {
      this.typingSentAt = now;
      this.sendTyping('typing:start');
    }
    clearTimeout(this.typingIdle);
    this.typingIdle = setTimeout(() => this.stopTyping(), TYPING_IDLE_MS);
  };

  private stopTyping(): void {
    clearTimeout(this.typingIdle);
    if (!this.typingSentAt) return;
    this.typingSentAt = 0;
    this.sendTyping('typing:stop');
  }

  private sendTyping(event: 'typing:start' | 'typing:stop'): void {
    void emitAck(this.socket, event, { conversationId: this.conversation.id }, { timeoutMs: 5_000 }).catch(() => undefined);
  }

  private readonly send = (event: SubmitEvent): void => {
    event.preventDefault();
    const { content } = fields(this.composer);
    if (!content) return;
    this.stopTyping();
    this.composer.reset();
    void (async () => {
      // The id makes a resend after a lost acknowledgement the same message, not a second one.
      const ack = await emitAck(this.socket, 'message:send', { conversationId: this.conversation.id, content, clientMessageId: crypto.randomUUID() }).catch((error: Error) => error);
      if (ack instanceof Error) return this.showError(`not sent: ${ack.message}`);
      if (!ack.ok) return this.showError(ack.error.message);
      this.sync.state.applyMessage(ack.data.message);
      this.render();
    })();
  };

  private async cancel(runId: string): Promise<void> {
    const ack = await emitAck(this.socket, 'run:cancel', { runId }).catch((error: Error) => error);
    if (ack instanceof Error) this.showError(`not cancelled: ${ack.message}`);
    else if (!ack.ok) this.showError(ack.error.message);
  }

  private async edit(message: MessageDto, content: string): Promise<boolean> {
    const { data, error, response } = await rest.PATCH('/api/v1/conversations/{id}/messages/{messageId}', {
      params: { path: { id: this.conversation.id, messageId: message.id } },
      body: { content },
    });
    if (!data) {
      this.showError(describeError(error, response.status));
      return false;
    }
    // The message:updated event brings the same version to everyone; this copy only saves the wait.
    this.sync.state.applyMessage(data as MessageDto);
    return true;
  }

  private readonly add = (event: SubmitEvent): void => {
    event.preventDefault();
    const { userId } = fields(this.addParticipant);
    void (async () => {
      const { error, response } = await rest.POST('/api/v1/conversations/{id}/participants', {
        params: { path: { id: this.conversation.id } },
        body: { userId, role: 'member' },
      });
      if (!response.ok) return this.showError(describeError(error, response.status));
      this.addParticipant.reset();
    })();
  };

  private showError(message: string): void {
    byId('conversation-error').textContent = message;
  }

  close(): void {
    this.stopTyping();
    for (const off of this.off.splice(0)) off();
    for (const timer of this.typists.values()) clearTimeout(timer);
    this.sync.close();
    if (this.socket.connected) void emitAck(this.socket, 'conversation:leave', { conversationId: this.conversation.id }).catch(() => undefined);
    this.section.hidden = true;
    this.list.replaceChildren();
    byId('conversation-error').textContent = '';
  }
}
