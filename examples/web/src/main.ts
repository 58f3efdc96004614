import type { ChatSocket, ConversationDto } from '@agent-chat/client';
import { API_URL, describeError, openSocket, rest, session, type User } from './api.js';
import { mountAuthForm } from './auth-view.js';
import { ConversationList } from './conversation-list.js';
import { ConversationView } from './conversation-view.js';
import { byId } from './dom.js';

/** What exists while someone is signed in. */
interface SignedIn {
  user: User;
  socket: ChatSocket;
  list: ConversationList;
  view?: ConversationView;
}

let current: SignedIn | undefined;
const connection = byId('connection');

function showConnection(state: 'signed-out' | 'connecting' | 'connected' | 'disconnected'): void {
  connection.dataset.state = state;
  connection.textContent = state === 'signed-out' ? '' : state;
}

async function start(): Promise<void> {
  if (current) return;
  const { data: user, error, response } = await rest.GET('/api/v1/auth/me');
  if (!user) {
    // The refresh token was refused too: the session is over.
    if (response.status === 401) session.signOut();
    else byId('auth').querySelector('.error')!.textContent = describeError(error, response.status);
    return;
  }
  const socket = openSocket();
  showConnection('connecting');
  socket.on('connect', () => showConnection('connected'));
  socket.on('disconnect', () => showConnection('disconnected'));
  const list = new ConversationList(socket, (conversation) => open(conversation), (message) => (byId('conversation-error').textContent = message));
  current = { user, socket, list };
  byId('me').textContent = `${user.displayName} · id `;
  byId('me').append(Object.assign(document.createElement('code'), { textContent: user.id }));
  byId('me').dataset.userId = user.id;
  toggle(true);
}

function open(conversation: ConversationDto): void {
  if (!current || current.view?.conversationId === conversation.id) return;
  current.view?.close();
  current.view = new ConversationView(current.socket, conversation, current.user.id);
}

function stop(): void {
  current?.view?.close();
  current?.list.close();
  current?.socket.close();
  current = undefined;
  showConnection('signed-out');
  toggle(false);
}

function toggle(signedIn: boolean): void {
  byId('auth').hidden = signedIn;
  byId('app').hidden = !signedIn;
  byId('me').hidden = !signedIn;
  byId('sign-out').hidden = !signedIn;
}

// The browser knows first when the network comes back: reconnect now rather than at the next backoff step.
window.addEventListener('online', () => {
  if (current && !current.socket.connected) current.socket.connect();
});

byId('sign-out').addEventListener('click', () => {
  const refreshToken = session.tokens?.refreshToken;
  if (refreshToken) void rest.POST('/api/v1/auth/logout', { body: { refreshToken } });
  session.signOut();
});

// Sign-in and sign-out, in this tab or another one.
session.onChange((tokens) => (tokens ? void start() : stop()));
mountAuthForm();
document.title = `Agent Chat · ${new URL(API_URL).host}`;
if (session.tokens) void start();
else toggle(false);
