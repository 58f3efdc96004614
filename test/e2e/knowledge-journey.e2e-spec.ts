import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { twoPagePdf } from '../fixtures/documents/index.js';
import { connectClient, type RecordingClient } from '../support/socket-client.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { ADMIN_ENV, createWorld, type World } from '../support/world.js';

const API = '/api/v1';

/**
 * The whole path a user takes: a PDF uploaded into a shared conversation, a question to the
 * (built-in) agent, and an answer whose citation opens the right document at the right page —
 * the same for every participant, and nothing of it for anyone else.
 */
describe('knowledge, end to end', () => {
  let t: TestApp;
  let world: World;
  let owner: RecordingClient;
  let member: RecordingClient;
  beforeAll(async () => {
    t = await startTestApp(ADMIN_ENV);
    world = await createWorld(t, 'auto');
    [owner, member] = await Promise.all([connectClient(t.baseUrl, world.owner.accessToken), connectClient(t.baseUrl, world.member.accessToken)]);
    for (const client of [owner, member]) {
      const joined = await client.emit('conversation:join', { conversationId: world.conversationId });
      if (!joined.ok) throw new Error(`join failed: ${JSON.stringify(joined)}`);
    }
  });
  afterAll(async () => {
    owner?.socket.close();
    member?.socket.close();
    await t?.close();
  });

  it('answers from an uploaded PDF with a citation of its page, the same for every participant', async () => {
    const pdf = twoPagePdf();
    const form = new FormData();
    form.append('conversationId', world.conversationId);
    form.append('file', new Blob([pdf]), 'harbour.pdf');
    const uploaded = await t.http(`${API}/documents`, { method: 'POST', token: world.owner.accessToken, body: form });
    expect(uploaded.status).toBe(201);
    const documentId = uploaded.body.id as string;

    // Both participants hear that it is ready, without asking.
    const isReady = (payload: { document: { id: string; status: string } }) => payload.document.id === documentId && payload.document.status === 'ready';
    const [seenByOwner, seenByMember] = await Promise.all([owner.waitFor('document:updated', isReady, 30_000), member.waitFor('document:updated', isReady, 30_000)]);
    expect(seenByMember).toEqual(seenByOwner);
    expect(seenByOwner.document).toMatchObject({ mediaType: 'application/pdf', chunks: expect.any(Number), error: null });

    const asked = await t.http(`${API}/conversations/${world.conversationId}/messages?wait=true`, {
      method: 'POST',
      token: world.member.accessToken,
      json: { content: '/docs fairway' },
    });
    expect(asked.status).toBe(201);
    const reply = asked.body.reply;
    expect(reply.status).toBe('complete');
    expect(reply.content).toContain('harbour.pdf');
    const [source] = reply.metadata.sources;
    expect(source).toMatchObject({ type: 'document', id: documentId, title: 'harbour.pdf', page: 2 });
    expect(source.snippet).toContain('**fairway**');

    // The owner reads the same reply, with the same citation, in the history.
    const history = await t.http(`${API}/conversations/${world.conversationId}/messages`, { token: world.owner.accessToken });
    expect(history.body.items.find((message: { id: string }) => message.id === reply.id).metadata.sources).toEqual(reply.metadata.sources);

    // The citation opens the document for every participant, viewer included.
    for (const user of [world.owner, world.member, world.viewer]) {
      const response = await fetch(new URL(`${API}/documents/${source.id}/content`, t.baseUrl), { headers: { authorization: `Bearer ${user.accessToken}` } });
      expect(response.status).toBe(200);
      expect(Buffer.from(await response.arrayBuffer()).equals(pdf)).toBe(true);
    }

    // Someone else sees nothing of it: not the document, not the reply, not through their own agent.
    expect((await t.http(`${API}/documents/${documentId}`, { token: world.outsider.accessToken })).status).toBe(404);
    expect((await t.http(`${API}/conversations/${world.conversationId}/messages`, { token: world.outsider.accessToken })).status).toBe(404);
    const own = await t.http(`${API}/conversations`, { method: 'POST', token: world.outsider.accessToken, json: { title: 'Mine', agent: { mode: 'auto' } } });
    const theirs = await t.http(`${API}/conversations/${own.body.id}/messages?wait=true`, {
      method: 'POST',
      token: world.outsider.accessToken,
      json: { content: '/docs fairway' },
    });
    expect(theirs.body.reply.metadata.sources ?? []).toEqual([]);
    expect(theirs.body.reply.content).not.toContain('harbour.pdf');
  });
});
