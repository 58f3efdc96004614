import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { type AppProcess, freePort, spawnApp, waitForStatus } from '../support/process.js';

const CLI = resolve(import.meta.dirname, '../../dist/src/database/backup/cli.js');
const PASSWORD = 'correct horse battery staple';

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH } }, (error, stdout, stderr) => {
      done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** A failure is one line on stderr: no stack trace, no connection URL. */
function expectOneLineError(result: { code: number; stdout: string; stderr: string }, message: RegExp): void {
  expect(result.code).toBe(1);
  expect(result.stderr).toMatch(message);
  expect(result.stderr.trim().split('\n')).toHaveLength(1);
  expect(result.stderr).not.toMatch(/postgres:\/\/|\n\s+at /);
}

const running: AppProcess[] = [];
afterEach(() => running.splice(0).forEach((app) => app.child.kill('SIGKILL')));

async function start(dataDir: string): Promise<AppProcess> {
  // The test sends messages faster than a person would.
  const app = spawnApp({ DATA_DIR: dataDir, MESSAGE_RATE_LIMIT: '100000' }, await freePort());
  running.push(app);
  try {
    await waitForStatus(`${app.baseUrl}/health/ready`, 200, 60_000);
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${app.output()}`, { cause: error });
  }
  return app;
}

async function stop(app: AppProcess): Promise<void> {
  app.child.kill('SIGTERM');
  expect(await app.exited).toBe(0);
}

async function api(app: AppProcess, method: string, path: string, token?: string, body?: unknown): Promise<any> {
  const response = await fetch(`${app.baseUrl}/api/v1${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...(token && { authorization: `Bearer ${token}` }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return response.status === 204 ? undefined : response.json();
}

/** Every conversation the user sees, with all of its messages, as the API returns them. */
async function everything(app: AppProcess, token: string): Promise<Record<string, { conversation: any; messages: any[] }>> {
  const result: Record<string, { conversation: any; messages: any[] }> = {};
  const { items } = await api(app, 'GET', '/conversations?limit=100', token);
  for (const conversation of items) {
    const messages: any[] = [];
    for (let page = { items: [] as any[], hasMore: true }; page.hasMore; messages.push(...page.items)) {
      page = await api(app, 'GET', `/conversations/${conversation.id}/messages?limit=100&afterSeq=${messages.at(-1)?.seq ?? 0}`, token);
    }
    result[conversation.id] = { conversation, messages };
  }
  return result;
}

const fresh = (name: string) => mkdtempSync(join(tmpdir(), `agentchat-${name}-`));

// Each test starts and stops several server processes.
describe('npm run backup / npm run restore (embedded database)', { timeout: 240_000 }, () => {
  it('backs up a running server, and a restore into a new DATA_DIR serves every conversation and message', async () => {
    const original = fresh('backup-source');
    const server = await start(original);
    const alice = await api(server, 'POST', '/auth/register', undefined, { email: 'alice@example.com', password: PASSWORD, displayName: 'Alice' });
    const bob = await api(server, 'POST', '/auth/register', undefined, { email: 'bob@example.com', password: PASSWORD, displayName: 'Bob' });
    const shared = await api(server, 'POST', '/conversations', alice.accessToken, { title: 'Shared "quotes" \\ and ünïcødé 🚀', participantIds: [bob.user.id] });
    // No agent where messages are sent without waiting: nothing changes behind the test's back.
    const own = await api(server, 'POST', '/conversations', bob.accessToken, { title: 'Bob alone', agent: { mode: 'off' } });
    await api(server, 'POST', `/conversations/${shared.id}/messages?wait=true`, alice.accessToken, { content: 'Line one\nline "two" ✓', clientMessageId: 'c-1' });
    const edited = await api(server, 'POST', `/conversations/${shared.id}/messages?wait=true`, bob.accessToken, { content: 'to be edited' });
    await api(server, 'PATCH', `/conversations/${shared.id}/messages/${edited.message.id}`, bob.accessToken, { content: 'edited' });
    const removed = await api(server, 'POST', `/conversations/${own.id}/messages`, bob.accessToken, { content: 'to be deleted' });
    await api(server, 'DELETE', `/conversations/${own.id}/messages/${removed.message.id}`, bob.accessToken);
    for (let i = 0; i < 30; i += 1) await api(server, 'POST', `/conversations/${own.id}/messages`, bob.accessToken, { content: `note ${i} ${'x'.repeat(i * 50)}` });
    const before = { alice: await everything(server, alice.accessToken), bob: await everything(server, bob.accessToken) };

    // Writes keep arriving while the backup reads: it holds one snapshot, and they wait for it.
    const busy = await api(server, 'POST', '/conversations', alice.accessToken, { title: 'Busy', agent: { mode: 'off' } });
    const backupDone = new AbortController();
    const writer = (async () => {
      for (let i = 0; !backupDone.signal.aborted; i += 1) await api(server, 'POST', `/conversations/${busy.id}/messages`, alice.accessToken, { content: `during backup ${i}` });
    })();
    const file = join(fresh('backup-file'), 'chat.backup.gz');
    const backup = await cli('backup', file, '--data-dir', original);
    backupDone.abort();
    await writer;
    expect(backup.stderr).toBe('');
    expect(backup.stdout).toMatch(/^Backed up \d+ rows in \d+ tables \(2 users, 3 conversations, \d+ messages\) from .* while the server ran to .*chat\.backup\.gz/);
    expect(backup.code).toBe(0);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(existsSync(`${file}.partial`)).toBe(false);
    await stop(server);

    const restoredDir = join(fresh('backup-target'), 'data');
    const restore = await cli('restore', file, '--data-dir', restoredDir);
    expect(restore.stderr).toBe('');
    expect(restore.stdout).toMatch(/^Restored \d+ rows in \d+ tables \(2 users, 3 conversations, \d+ messages\)/);
    expect(restore.code).toBe(0);
    expect(readdirSync(restoredDir).sort()).toEqual(['jwt-secret', 'pgdata']);

    const restored = await start(restoredDir);
    // The generated secret came along: tokens issued before the backup still work, and so do passwords.
    expect(await everything(restored, alice.accessToken)).toMatchObject(before.alice);
    const bobAgain = await api(restored, 'POST', '/auth/login', undefined, { email: 'bob@example.com', password: PASSWORD });
    expect(await everything(restored, bobAgain.accessToken)).toEqual(before.bob);
    // The busy conversation is whole as of one instant: its counter matches its messages, none missing.
    const busyNow = (await everything(restored, alice.accessToken))[busy.id]!;
    expect(busyNow.messages.map((message) => message.seq)).toEqual(Array.from({ length: busyNow.conversation.lastSeq }, (_, i) => i + 1));
    // And it takes new writes after the restored rows.
    const next = await api(restored, 'POST', `/conversations/${shared.id}/messages`, alice.accessToken, { content: 'after the restore' });
    expect(next.message.seq).toBe(before.alice[shared.id]!.conversation.lastSeq + 1);

    // Refusals leave the target as it was.
    expectOneLineError(await cli('restore', file, '--data-dir', restoredDir), /is in use by process \d+: stop the server first/);
    await stop(restored);
    expectOneLineError(await cli('restore', file, '--data-dir', restoredDir), /is not empty \(jwt-secret, pgdata\).*--force/);

    // Stopped, the same data backs up again (the tool opens the database itself), and restores over it with --force.
    const offline = await cli('backup', join(fresh('backup-file'), 'offline.gz'), '--data-dir', restoredDir);
    expect(offline.stdout).toContain('with no server running');
    expect(offline.code).toBe(0);
    const forced = await cli('restore', file, '--data-dir', restoredDir, '--force');
    expect(forced.code).toBe(0);
    const again = await start(restoredDir);
    // Sessions are those of the backup: a token issued before it works again, one issued since does not.
    expect(await everything(again, bob.accessToken)).toEqual(before.bob);
    expect((await fetch(`${again.baseUrl}/api/v1/auth/me`, { headers: { authorization: `Bearer ${bobAgain.accessToken}` } })).status).toBe(401);
    await stop(again);
  });

  it('refuses damaged or foreign files in one line, and leaves no database behind', async () => {
    const dir = fresh('backup-bad');
    const target = join(dir, 'target');
    const notGzip = join(dir, 'plain.txt');
    writeFileSync(notGzip, 'hello');
    expectOneLineError(await cli('restore', notGzip, '--data-dir', target), /plain\.txt is not a complete backup \(not gzip, or damaged\)/);
    const foreign = join(dir, 'foreign.gz');
    writeFileSync(foreign, gzipSync('{"hello":"world"}\n'));
    expectOneLineError(await cli('restore', foreign, '--data-dir', target), /foreign\.gz is not a backup made by npm run backup/);
    const newer = join(dir, 'newer.gz');
    writeFileSync(newer, gzipSync(`${JSON.stringify({ format: 'agent-chat-embedded-backup', version: 1, migrations: ['FromTheFuture9999999999999'], sequences: [] })}\n`));
    expectOneLineError(await cli('restore', newer, '--data-dir', target), /made by a newer release \(its migration FromTheFuture9999999999999 is unknown here\)/);
    expectOneLineError(await cli('restore', join(dir, 'missing.gz'), '--data-dir', target), /missing\.gz does not exist/);
    expect(existsSync(target)).toBe(false);

    // A real backup cut short: its rows load, but without the end line nothing is kept.
    const source = fresh('backup-short');
    const server = await start(source);
    await api(server, 'POST', '/auth/register', undefined, { email: 'short@example.com', password: PASSWORD, displayName: 'Short' });
    const whole = join(dir, 'whole.gz');
    expect((await cli('backup', whole, '--data-dir', source)).code).toBe(0);
    expectOneLineError(await cli('backup', whole, '--data-dir', source), /whole\.gz exists \(--force replaces it\)/);
    await stop(server);
    const lines = gunzipSync(readFileSync(whole)).toString('utf8').trimEnd().split('\n');
    const truncated = join(dir, 'truncated.gz');
    writeFileSync(truncated, gzipSync(`${lines.slice(0, -1).join('\n')}\n`));
    expectOneLineError(await cli('restore', truncated, '--data-dir', target), /truncated \(no end line\): nothing was restored/);
    const cut = join(dir, 'cut.gz');
    writeFileSync(cut, readFileSync(whole).subarray(0, Math.floor(statSync(whole).size / 2)));
    expectOneLineError(await cli('restore', cut, '--data-dir', target), /cut\.gz is not a complete backup \(truncated\)/);
    expect(readdirSync(target)).toEqual([]);

    expectOneLineError(await cli('backup', join(dir, 'x.gz'), '--data-dir', join(dir, 'nothing-here')), /No embedded database in .*nothing-here/);
    const usage = await cli('backup');
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('usage: npm run backup -- <file>');
  });
});

