import { randomUUID } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import { DataSource } from 'typeorm';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FakeAnthropic } from '../fixtures/fake-anthropic.js';
import { FakeOpenAI } from '../fixtures/fake-openai.js';
import { type Registered, register } from '../support/auth.js';
import { waitUntil } from '../support/conditions.js';
import { connectClient, type RecordingClient } from '../support/socket-client.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const API = '/api/v1';

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Buffer): number {
  let c = 0xffffffff;
  for (const byte of bytes) c = CRC_TABLE[(c ^ byte) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** A valid RGB PNG of one colour, as an image editor would write it. */
function png(width: number, height: number, rgb: [number, number, number]): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8);
  const row = Buffer.concat([Buffer.from([0]), Buffer.from(Array.from({ length: width }, () => rgb).flat())]);
  const pixels = deflateSync(Buffer.concat(Array.from({ length: height }, () => row)));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), pngChunk('IHDR', header), pngChunk('IDAT', pixels), pngChunk('IEND', Buffer.alloc(0))]);
}

const RED_SQUARE = png(16, 16, [220, 20, 60]);
const PLAN = '# Floor plan\n\nThe kitchen faces north and has two windows.\n\n## Garden\n\nThe garden is planted with lavender.\n';
/** About 40,000 tokens of distinct sentences: far more than the context budget. */
const HANDBOOK = `# Handbook\n\n${Array.from({ length: 3000 }, (_, i) => `Rule ${i} says that form ${i * 7} goes to desk ${i % 13}.`).join(' ')}\n`;

type UserContent = { type: string; text?: string; image_url?: { url: string }; source?: { type: string; media_type: string; data: string } }[];

describe('message attachments', () => {
  let t: TestApp;
  let openai: FakeOpenAI;
  let anthropic: FakeAnthropic;
  let ada: Registered;
  let bob: Registered;
  let stranger: Registered;
  let sockets: RecordingClient[] = [];

  beforeAll(async () => {
    [openai, anthropic] = await Promise.all([new FakeOpenAI().start(), new FakeAnthropic().start()]);
    t = await startTestApp({
      OPENAI_BASE_URL: openai.url,
      OPENAI_API_KEY: 'sk-test-not-a-real-key',
      ANTHROPIC_API_KEY: 'test-key',
      ANTHROPIC_BASE_URL: anthropic.url,
      AGENT_ALLOWED_MODELS: 'openai:fake-vision,anthropic:claude-fake',
      MESSAGE_RATE_LIMIT: '100000',
      ATTACHMENT_WAIT_MS: '3000',
    });
    [ada, bob, stranger] = await Promise.all([register(t, { displayName: 'Ada' }), register(t, { displayName: 'Bob' }), register(t)]);
  });
  afterAll(async () => {
    await t?.close();
    await Promise.all([openai?.stop(), anthropic?.stop()]);
  });
  beforeEach(() => openai.reset());
  afterEach(() => {
    for (const socket of sockets) socket.socket.close();
    sockets = [];
  });

  const post = (as: Registered, path: string, json: unknown) => t.http(`${API}${path}`, { method: 'POST', token: as.accessToken, json });
  const get = (as: Registered, path: string) => t.http(`${API}${path}`, { token: as.accessToken });

  async function conversation(agent: Record<string, unknown>, participantIds: string[] = []): Promise<string> {
    const created = await post(ada, '/conversations', { title: 'attachments', agent, participantIds });
    expect(created.status).toBe(201);
    return created.body.id;
  }

  /** Uploads and waits until the document is processed. */
  async function upload(as: Registered, content: Buffer | string, filename: string, conversationId?: string): Promise<{ id: string; bytes: number; mediaType: string; filename: string }> {
    const form = new FormData();
    if (conversationId) form.append('conversationId', conversationId);
    form.append('file', new Blob([content]), filename);
    const created = await t.http(`${API}/documents`, { method: 'POST', token: as.accessToken, body: form });
    expect(created.status).toBe(201);
    await waitUntil(async () => (await get(as, `/documents/${created.body.id}`)).body.status !== 'processing', 'the document to be processed', 20_000);
    return created.body;
  }

  const lastUserContent = (): UserContent => openai.requests.at(-1)!.body.messages.findLast((m) => m.role === 'user')!.content as UserContent;

  describe('with an OpenAI-compatible vision model', () => {
    it('sends images as image_url data URLs and documents as their text, before the question', async () => {
      const id = await conversation({ provider: 'openai', model: 'fake-vision' });
      const image = await upload(ada, RED_SQUARE, 'red.png', id);
      const plan = await upload(ada, PLAN, 'plan.md', id);
      const sent = await post(ada, `/conversations/${id}/messages?wait=true`, { content: 'Which way does the kitchen face?', attachments: [image.id, plan.id] });
      expect(sent.status).toBe(201);
      expect(sent.body.message.attachments).toEqual([image.id, plan.id]);
      expect(sent.body.message.attachmentDetails).toEqual([
        { id: image.id, filename: 'red.png', mediaType: 'image/png', bytes: RED_SQUARE.length },
        { id: plan.id, filename: 'plan.md', mediaType: 'text/markdown', bytes: Buffer.byteLength(PLAN) },
      ]);
      expect(sent.body.run.status).toBe('completed');

      const content = lastUserContent();
      expect(content.map((part) => part.type)).toEqual(['text', 'image_url', 'text', 'text']);
      expect(content[0]!.text).toBe('[Attached image: "red.png"]');
      expect(content[1]!.image_url!.url).toBe(`data:image/png;base64,${RED_SQUARE.toString('base64')}`);
      expect(content[2]!.text).toBe('[Attached document: "plan.md"]\nFloor plan The kitchen faces north and has two windows.\n\nGarden The garden is planted with lavender.');
      expect(content[3]!.text).toBe('Which way does the kitchen face?');
    });

    it('gives a large document up to half the budget, cut at a chunk boundary with a note', async () => {
      const id = await conversation({ provider: 'openai', model: 'fake-vision' });
      const handbook = await upload(ada, HANDBOOK, 'handbook.md', id);
      const sent = await post(ada, `/conversations/${id}/messages?wait=true`, { content: 'Where does form 70 go?', attachments: [handbook.id] });
      expect(sent.body.run.status).toBe('completed');
      const text = lastUserContent()[0]!.text!;
      expect(text.startsWith('[Attached document: "handbook.md"]\nHandbook Rule 0 says that form 0 goes to desk 0.')).toBe(true);
      const note = /\n\[truncated: showing (\d+) of about (\d+) tokens\]$/.exec(text);
      expect(note).not.toBeNull();
      const [shown, total] = [Number(note![1]), Number(note![2])];
      expect(shown).toBeGreaterThan(3000);
      expect(shown).toBeLessThanOrEqual(4000);
      expect(total).toBeGreaterThan(30_000);
      expect(total).toBeLessThan(50_000);
      // Cut where a chunk ends: the last rule shown is whole, and no rule is repeated by the chunks' overlap.
      const body = text.slice(0, note!.index);
      expect(body).toMatch(/desk \d+\.$/);
      const rules = [...body.matchAll(/Rule (\d+) says/g)].map((match) => Number(match[1]));
      expect(rules).toEqual(rules.map((_, i) => i));
    });

    it('says an attachment deleted since is gone, and the message still loads', async () => {
      const id = await conversation({ provider: 'openai', model: 'fake-vision' });
      const plan = await upload(ada, PLAN, 'plan.md', id);
      const sent = await post(ada, `/conversations/${id}/messages?wait=true`, { content: 'Summarise the plan', attachments: [plan.id] });
      expect((await t.http(`${API}/documents/${plan.id}`, { method: 'DELETE', token: ada.accessToken })).status).toBe(204);

      const history = await get(ada, `/conversations/${id}/messages`);
      expect(history.status).toBe(200);
      expect(history.body.items[0].attachments).toEqual([plan.id]);
      expect(history.body.items[0].attachmentDetails).toEqual([{ id: plan.id, filename: 'plan.md', mediaType: 'text/markdown', bytes: Buffer.byteLength(PLAN) }]);
      const again = await post(ada, `/conversations/${id}/messages/${sent.body.message.id}/regenerate`, {});
      expect(again.status).toBe(201);
      await waitUntil(async () => (await get(ada, `/conversations/${id}/runs/${again.body.id}`)).body.status === 'completed', 'the regenerated run');
      expect(lastUserContent()[0]!.text).toBe('[Attachment "plan.md" (text/markdown) was deleted: its content is no longer available.]');
    });

    it('waits for a document still being processed, and says so when it takes too long', async () => {
      const id = await conversation({ provider: 'openai', model: 'fake-vision' });
      const plan = await upload(ada, PLAN, 'plan.md', id);
      const database = t.app.get(DataSource);
      // Back to processing, as if an instance were still extracting it (its lease keeps the others off).
      const setStatus = (status: string) =>
        database.query(`UPDATE documents SET status = $2::varchar, lease_expires_at = CASE WHEN $2::varchar = 'processing' THEN now() + interval '1 hour' END WHERE id = $1`, [plan.id, status]);
      await setStatus('processing');
      const sent = await post(ada, `/conversations/${id}/messages`, { content: 'Read this', attachments: [plan.id] });
      expect(sent.status).toBe(201);
      const runStatus = async (runId: string) => (await get(ada, `/conversations/${id}/runs/${runId}`)).body.status;
      await waitUntil(async () => (await runStatus(sent.body.run.id)) === 'running', 'the run to start');
      expect(openai.requests).toEqual([]);
      await setStatus('ready');
      await waitUntil(async () => (await runStatus(sent.body.run.id)) === 'completed', 'the run to complete');
      expect(lastUserContent()[0]!.text).toContain('The kitchen faces north');

      await setStatus('processing');
      try {
        const slow = await post(ada, `/conversations/${id}/messages?wait=true`, { content: 'Read it again', attachments: [plan.id] });
        expect(slow.body.run.status).toBe('completed');
        expect(lastUserContent()[0]!.text).toBe('[Attached document "plan.md": still being processed, so its text is not available yet.]');
      } finally {
        // Its lease would hold Ada's next uploads back (one document per user at a time).
        await setStatus('ready');
      }
    });

    it('names the attachments of earlier messages without sending them again', async () => {
      const id = await conversation({ provider: 'openai', model: 'fake-vision' });
      const image = await upload(ada, RED_SQUARE, 'red.png', id);
      await post(ada, `/conversations/${id}/messages?wait=true`, { content: 'What colour is this?', attachments: [image.id] });
      await post(ada, `/conversations/${id}/messages?wait=true`, { content: 'And is it a square?' });
      const request = openai.requests.at(-1)!.body;
      expect(JSON.stringify(request)).not.toContain(RED_SQUARE.toString('base64'));
      const earlier = request.messages.find((m) => m.role === 'user')!.content as UserContent;
      expect(earlier[0]).toEqual({ type: 'text', text: '[Attached: "red.png" (image/png); its content is not repeated here]' });
    });
  });

  it('sends an image to Anthropic as an image block, over Socket.IO', async () => {
    const id = await conversation({ provider: 'anthropic', model: 'claude-fake' });
    const image = await upload(ada, RED_SQUARE, 'red.png', id);
    const socket = await connectClient(t.baseUrl, ada.accessToken);
    sockets.push(socket);
    expect((await socket.emit('conversation:join', { conversationId: id })).ok).toBe(true);
    const ack = await socket.emit('message:send', { conversationId: id, content: 'Describe it', attachments: [image.id], clientMessageId: 'ws-1' });
    expect(ack.ok).toBe(true);
    expect(ack.data.message.attachments).toEqual([image.id]);
    expect(ack.data.message.attachmentDetails).toEqual([{ id: image.id, filename: 'red.png', mediaType: 'image/png', bytes: RED_SQUARE.length }]);
    const created = await socket.waitFor('message:created', (payload) => payload.message.id === ack.data.message.id);
    expect(created.message).toMatchObject({ attachments: ack.data.message.attachments, attachmentDetails: ack.data.message.attachmentDetails });
    await socket.waitFor('run:completed', (payload) => payload.run.id === ack.data.run.id);

    const content = anthropic.requests.at(-1)!.body.messages.at(-1)!.content as UserContent;
    expect(content.find((part) => part.type === 'image')).toEqual({ type: 'image', source: { type: 'base64', media_type: 'image/png', data: RED_SQUARE.toString('base64') } });
    expect(content.at(-1)).toMatchObject({ type: 'text', text: 'Describe it' });

    // A retry with the same key gets the stored message back, attachments and all.
    const retry = await socket.emit('message:send', { conversationId: id, content: 'Describe it', attachments: [image.id], clientMessageId: 'ws-1' });
    expect(retry.data.message).toEqual(ack.data.message);
  });

  it('has the builtin agent say what was attached, quoting documents', async () => {
    const id = await conversation({ mode: 'auto' });
    const image = await upload(ada, RED_SQUARE, 'red.png', id);
    const plan = await upload(ada, PLAN, 'plan.md', id);
    const sent = await post(ada, `/conversations/${id}/messages?wait=true`, { content: 'What do you make of these?', attachments: [image.id, plan.id] });
    const reply: string = sent.body.reply.content;
    expect(reply).toContain("can't look at images");
    expect(reply).toContain('2 attachments');
    expect(reply).toContain(`- "red.png" — image/png, ${RED_SQUARE.length} bytes`);
    expect(reply).toContain('- "plan.md" — text/markdown');
    expect(reply).toContain('> Floor plan');
    // Commands still work with attachments.
    const calc = await post(ada, `/conversations/${id}/messages?wait=true`, { content: '/calc 6 * 7', attachments: [plan.id] });
    expect(calc.body.reply.content).toBe('6 * 7 = 42');
  });

  describe('limits and access', () => {
    let id: string;
    let plan: { id: string };
    beforeAll(async () => {
      id = await conversation({ mode: 'off' }, [bob.id]);
      plan = await upload(ada, PLAN, 'plan.md', id);
    });

    const send = (as: Registered, attachments: unknown, content = 'see attached') => post(as, `/conversations/${id}/messages`, { content, attachments });

    it('refuses more than ATTACHMENTS_MAX, and a document named twice', async () => {
      const six = await send(ada, Array.from({ length: 6 }, () => randomUUID()));
      expect(six.status).toBe(400);
      expect(six.body.details).toEqual({ attachments: ['attachments must contain no more than 5 elements'] });
      const twice = await send(ada, [plan.id, plan.id]);
      expect(twice.status).toBe(400);
      expect(twice.body.details).toEqual({ attachments: ['attachments must not name a document twice'] });
      const twiceByCase = await send(ada, [plan.id, plan.id.toUpperCase()]);
      expect(twiceByCase.body.details).toEqual({ attachments: ['attachments must not name a document twice'] });
      expect((await send(ada, ['not-a-uuid'])).body.details).toEqual({ attachments: ['each of attachments must be a UUID'] });
    });

    it('refuses any document that is not of this conversation alike, whoever owns it and whether it exists', async () => {
      const other = await conversation({ mode: 'off' });
      const elsewhere = await upload(ada, PLAN, 'elsewhere.md', other);
      const ownPrivate = await upload(ada, PLAN, 'private.md');
      const strangers = await upload(stranger, 'secret notes', 'secret.txt');
      const answers = await Promise.all([elsewhere.id, ownPrivate.id, strangers.id, randomUUID()].map((doc) => send(ada, [plan.id, doc])));
      for (const answer of answers) {
        expect(answer.status).toBe(400);
        expect(answer.body.details).toEqual({ 'attachments.1': ['no document with this id in this conversation (upload it with conversationId first)'] });
      }
      const { requestId: _a, ...strangerBody } = answers[2]!.body;
      const { requestId: _b, ...randomBody } = answers[3]!.body;
      expect(strangerBody).toEqual(randomBody);
      // Nothing was stored.
      expect((await get(ada, `/conversations/${id}/messages`)).body.items.filter((m: { content: string }) => m.content === 'see attached')).toEqual([]);
    });

    it('refuses a document that failed to process, with its reason', async () => {
      const broken = await upload(ada, 'fine text', 'broken.txt', id);
      await t.app.get(DataSource).query(`UPDATE documents SET status = 'failed', error = 'The document is encrypted' WHERE id = $1`, [broken.id]);
      const refused = await send(ada, [broken.id]);
      expect(refused.status).toBe(400);
      expect(refused.body.details).toEqual({ 'attachments.0': ['the document could not be processed: The document is encrypted'] });
    });

    it('lets every participant attach the conversation’s documents, and shows them in history, changes and joins', async () => {
      const sent = await send(bob, [plan.id], 'from Bob');
      expect(sent.status).toBe(201);
      const expected = { attachments: [plan.id], attachmentDetails: [{ id: plan.id, filename: 'plan.md', mediaType: 'text/markdown', bytes: Buffer.byteLength(PLAN) }] };
      const history = await get(ada, `/conversations/${id}/messages?afterSeq=${sent.body.message.seq - 1}`);
      expect(history.body.items[0]).toMatchObject(expected);
      const changes = await get(ada, `/conversations/${id}/changes?afterVersion=${sent.body.message.version - 1}`);
      expect(changes.body.items[0]).toMatchObject(expected);
      const socket = await connectClient(t.baseUrl, ada.accessToken);
      sockets.push(socket);
      const joined = await socket.emit('conversation:join', { conversationId: id, afterVersion: sent.body.message.version - 1 });
      expect(joined.data.changes[0]).toMatchObject(expected);
    });

    it('keeps attachments through an edit, which cannot change them, and drops them with the message', async () => {
      const sent = await send(ada, [plan.id], 'to edit');
      const path = `${API}/conversations/${id}/messages/${sent.body.message.id}`;
      const refused = await t.http(path, { method: 'PATCH', token: ada.accessToken, json: { content: 'edited', attachments: [] } });
      expect(refused.status).toBe(400);
      const edited = await t.http(path, { method: 'PATCH', token: ada.accessToken, json: { content: 'edited' } });
      expect(edited.body).toMatchObject({ attachments: sent.body.message.attachments, attachmentDetails: sent.body.message.attachmentDetails });
      expect((await t.http(path, { method: 'DELETE', token: ada.accessToken })).status).toBe(204);
      const history = await get(ada, `/conversations/${id}/messages?afterSeq=${sent.body.message.seq - 1}`);
      expect(history.body.items[0]).toMatchObject({ content: '', attachments: [], attachmentDetails: [] });
    });

    it('answers a Socket.IO send with a VALIDATION ack carrying the same details', async () => {
      const socket = await connectClient(t.baseUrl, ada.accessToken);
      sockets.push(socket);
      const ack = await socket.emit('message:send', { conversationId: id, content: 'x', attachments: [randomUUID()] });
      expect(ack).toEqual({
        ok: false,
        error: { code: 'VALIDATION', message: 'Validation failed', details: { 'attachments.0': ['no document with this id in this conversation (upload it with conversationId first)'] } },
      });
    });

    it('takes useChat file parts that name a document, and refuses inline files', async () => {
      const body = (parts: unknown[], messageId: string) => ({ id, trigger: 'submit-message', messages: [{ id: messageId, role: 'user', parts }] });
      const accepted = await post(ada, '/chat', body([{ type: 'text', text: 'from useChat' }, { type: 'file', mediaType: 'text/markdown', url: `document:${plan.id}` }], 'ui-1'));
      expect(accepted.status).toBe(200);
      const stored = (await get(ada, `/conversations/${id}/messages`)).body.items.find((m: { clientMessageId: string }) => m.clientMessageId === 'ui-1');
      expect(stored.attachments).toEqual([plan.id]);
      const inline = await post(ada, '/chat', body([{ type: 'text', text: 'inline' }, { type: 'file', mediaType: 'image/png', url: `data:image/png;base64,${RED_SQUARE.toString('base64')}` }], 'ui-2'));
      expect(inline.status).toBe(400);
      expect(Object.keys(inline.body.details)).toEqual(['messages.0.parts.1.url']);
    });
  });
});
