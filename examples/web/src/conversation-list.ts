import type { ChatSocket, ConversationDto, Schema } from '@agent-chat/client';
import { describeError, rest } from './api.js';
import { byId, fields, h } from './dom.js';

type AgentChoice = Schema<'AgentSettingsDto'>;

const AGENT_CHOICES: Record<string, AgentChoice | undefined> = {
  '': undefined,
  builtin: { mode: 'auto', provider: 'builtin' },
  mention: { mode: 'mention' },
  off: { mode: 'off' },
};

/**
 * The signed-in user's conversations, most recent activity first. `conversation:updated` reaches
 * every participant's own sockets (a new message, a title, being added to one), so the list
 * stays current without polling; it is read again after each reconnect.
 */
export class ConversationList {
  private readonly items = new Map<string, ConversationDto>();
  private readonly list = byId<HTMLUListElement>('conversations');
  private readonly form = byId<HTMLFormElement>('new-conversation');
  private selected: string | undefined;

  constructor(
    private readonly socket: ChatSocket,
    private readonly open: (conversation: ConversationDto) => void,
    private readonly showError: (message: string) => void,
  ) {
    socket.on('connect', this.load);
    socket.on('conversation:updated', this.updated);
    this.form.addEventListener('submit', this.create);
    void this.load();
  }

  readonly load = async (): Promise<void> => {
    const { data, error, response } = await rest.GET('/api/v1/conversations', { params: { query: { limit: 50 } } });
    if (!data) return this.showError(describeError(error, response.status));
    this.items.clear();
    for (const conversation of data.items) this.items.set(conversation.id, conversation as ConversationDto);
    this.render();
  };

  private readonly updated = ({ conversation }: { conversation: ConversationDto }): void => {
    const known = this.items.get(conversation.id);
    if (known && known.version > conversation.version) return;
    this.items.set(conversation.id, conversation);
    this.render();
  };

  private readonly create = (event: SubmitEvent): void => {
    event.preventDefault();
    const { title, agent } = fields(this.form);
    void (async () => {
      const { data, error, response } = await rest.POST('/api/v1/conversations', { body: { title, agent: AGENT_CHOICES[agent ?? ''] } });
      if (!data) return this.showError(describeError(error, response.status));
      this.form.reset();
      this.items.set(data.id, data as ConversationDto);
      this.select(data as ConversationDto);
    })();
  };

  select(conversation: ConversationDto): void {
    this.selected = conversation.id;
    this.render();
    this.open(conversation);
  }

  private render(): void {
    const sorted = [...this.items.values()].sort((a, b) => (b.lastMessageAt ?? b.createdAt).localeCompare(a.lastMessageAt ?? a.createdAt));
    this.list.replaceChildren(
      ...sorted.map((conversation) => {
        const unread = conversation.id !== this.selected && conversation.unreadCount > 0 ? h('span', { class: 'unread' }, String(conversation.unreadCount)) : '';
        const button = h('button', { type: 'button' }, conversation.title ?? 'Untitled', unread);
        button.addEventListener('click', () => this.select(conversation));
        return h('li', { 'data-id': conversation.id, 'aria-current': conversation.id === this.selected ? 'true' : undefined }, button);
      }),
    );
  }

  close(): void {
    this.socket.off('connect', this.load);
    this.socket.off('conversation:updated', this.updated);
    this.form.removeEventListener('submit', this.create);
    this.list.replaceChildren();
  }
}
