import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeAnthropic } from '../fixtures/fake-anthropic.js';
import { register } from '../support/auth.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

describe('AgentCore with the anthropic provider', () => {
  let fake: FakeAnthropic;
  let t: TestApp;
  beforeAll(async () => {
    fake = await new FakeAnthropic().start();
    t = await startTestApp({ AGENT_PROVIDER: 'anthropic', AGENT_MODEL: 'claude-test', ANTHROPIC_API_KEY: 'sk-ant-test', ANTHROPIC_BASE_URL: fake.url });
  });
  afterAll(async () => {
    await t?.close();
    await fake?.stop();
  });

  it('streams a reply from the Messages API and persists it with usage', async () => {
    const user = await register(t);
    const id = (await t.http('/api/v1/conversations', { method: 'POST', token: user.accessToken, json: { agent: { systemPrompt: 'Be kind.' } } })).body.id;
    const { body } = await t.http(`/api/v1/conversations/${id}/messages?wait=true`, { method: 'POST', token: user.accessToken, json: { content: 'Hi Claude' } });
    expect(body.run).toMatchObject({ status: 'completed', provider: 'anthropic', model: 'claude-test', usage: { inputTokens: 12, outputTokens: 3 } });
    expect(body.reply).toMatchObject({ status: 'complete', content: 'Hello from Claude.' });
    const [request] = fake.requests;
    expect(request!.headers['x-api-key']).toBe('sk-ant-test');
    expect(request!.body).toMatchObject({ model: 'claude-test', stream: true });
    expect(JSON.stringify(request!.body.system)).toContain('Be kind.');
    expect(request!.body.messages.at(-1)).toMatchObject({ role: 'user' });
    expect(JSON.stringify(request!.body.messages.at(-1)!.content)).toContain('Hi Claude');
  });
});
