import type { ConversationState, MessageDto } from '@agent-chat/client';
import { h, userLabel } from './dom.js';

export interface MessageActions {
  /** Cancels the reply of this run. */
  cancel(runId: string): void;
  /** Saves new text for one of the user's own messages. */
  edit(message: MessageDto, content: string): Promise<boolean>;
}

/** What one row shows; a row is rebuilt only when this changes, so an open edit form survives other updates. */
interface Row {
  key: string;
  element: HTMLLIElement;
}

/**
 * The conversation's messages as the synced state holds them, in seq order. A streaming reply
 * shows the text streamed so far (snapshot + deltas); the final message then replaces it.
 */
export class MessageList {
  private readonly rows = new Map<string, Row>();
  /** Tool calls seen live per run, shown until the reply's own metadata lists them. */
  readonly tools = new Map<string, string[]>();
  private editing: string | undefined;

  constructor(
    private readonly list: HTMLOListElement,
    private readonly me: string,
    private readonly actions: MessageActions,
  ) {}

  render(state: ConversationState): void {
    const messages = state.visibleMessages();
    const ids = new Set<string>();
    const elements = messages.map((message) => {
      ids.add(message.id);
      const streamed = message.runId ? state.streams.get(message.runId) : undefined;
      const text = message.status === 'streaming' && streamed ? streamed.text : message.content;
      const key = JSON.stringify([message.version, message.status, text, this.tools.get(message.runId ?? ''), this.editing === message.id]);
      let row = this.rows.get(message.id);
      if (!row || row.key !== key) {
        row = { key, element: this.row(message, text) };
        this.rows.set(message.id, row);
      }
      return row.element;
    });
    for (const id of this.rows.keys()) if (!ids.has(id)) this.rows.delete(id);
    this.list.replaceChildren(...elements);
  }

  private row(message: MessageDto, text: string): HTMLLIElement {
    const toolNames = message.metadata?.toolCalls?.map((call) => String((call as { name?: unknown }).name)) ?? this.tools.get(message.runId ?? '') ?? [];
    const meta = h(
      'div',
      { class: 'meta' },
      h('span', { class: 'author' }, message.role === 'assistant' ? 'agent' : userLabel(message.authorId, this.me)),
      ...toolNames.map((name) => h('span', { class: 'tool' }, `tool: ${name}`)),
      message.editedAt ? h('span', { class: 'edited' }, '(edited)') : '',
      message.status === 'complete' ? '' : h('span', { class: 'status' }, message.status),
    );
    const li = h('li', { 'data-id': message.id, 'data-role': message.role, 'data-status': message.status, 'data-version': String(message.version) }, meta);
    if (this.editing === message.id) li.append(this.editForm(message));
    else li.append(h('div', { class: 'text' }, text), ...this.buttons(message));
    return li;
  }

  private buttons(message: MessageDto): HTMLButtonElement[] {
    const buttons: HTMLButtonElement[] = [];
    if (message.status === 'streaming' && message.runId) {
      const runId = message.runId;
      buttons.push(button('Stop', 'cancel', () => this.actions.cancel(runId)));
    }
    if (message.role === 'user' && message.authorId === this.me) {
      buttons.push(
        button('Edit', 'edit', () => {
          this.editing = message.id;
          this.rows.delete(message.id);
          this.list.dispatchEvent(new Event('rerender'));
        }),
      );
    }
    return buttons;
  }

  private editForm(message: MessageDto): HTMLFormElement {
    const input = h('input', { name: 'content', required: '', 'aria-label': 'New text' });
    input.value = message.content;
    const form = h('form', { class: 'edit' }, input, h('button', { type: 'submit' }, 'Save'), button('Cancel', 'cancel-edit', () => this.stopEditing()));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.actions.edit(message, input.value.trim()).then((saved) => saved && this.stopEditing());
    });
    queueMicrotask(() => input.focus());
    return form;
  }

  private stopEditing(): void {
    this.editing = undefined;
    this.list.dispatchEvent(new Event('rerender'));
  }
}

function button(label: string, action: string, onClick: () => void): HTMLButtonElement {
  const element = h('button', { type: 'button', 'data-action': action }, label);
  element.addEventListener('click', onClick);
  return element;
}
