import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const CHECKER = fileURLToPath(new URL('../../scripts/check-compose.mjs', import.meta.url));
const DOCKER_DIR = fileURLToPath(new URL('../../docker', import.meta.url));

function check(dir?: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CHECKER, ...(dir ? [dir] : [])], (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, output: `${stdout}${stderr}` });
    });
  });
}

const copies: string[] = [];
afterAll(() => copies.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

/** A copy of docker/ with one file edited; the edit must apply, so the test follows the files. */
function mutatedCopy(file: 'compose.yml' | 'nginx.conf' | 'Dockerfile', from: string | RegExp, to: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'agentchat-compose-'));
  copies.push(dir);
  cpSync(DOCKER_DIR, dir, { recursive: true });
  const original = readFileSync(join(dir, file), 'utf8');
  const edited = original.replace(from, to);
  if (edited === original) throw new Error(`${String(from)} not found in docker/${file}`);
  writeFileSync(join(dir, file), edited);
  return dir;
}

describe('scripts/check-compose.mjs', () => {
  it('passes the deployment files as committed', async () => {
    const { code, output } = await check();
    expect(output).toContain('8 services');
    expect(code).toBe(0);
  });

  it.each([
    ['a third app instance in the scaled profile', 'compose.yml', '    profiles: [single]\n', '    profiles: [single, scaled]\n', /profile scaled starts app, app-1.*publishes a port/s],
    ['a service outside every profile', 'compose.yml', '    profiles: [single]\n', '', /app: no profile/],
    ['a published app port in the scaled profile', 'compose.yml', '      TRUST_PROXY: "true"\n', '      TRUST_PROXY: "true"\n    ports: ["3001:3000"]\n', /profile scaled: app-\d publishes a port/],
    ['a default database password', 'compose.yml', /POSTGRES_PASSWORD: \$\{POSTGRES_PASSWORD:\?[^}]*\}/, 'POSTGRES_PASSWORD: ${POSTGRES_PASSWORD:-agentchat}', /postgres: POSTGRES_PASSWORD is not a required variable/],
    ['literal credentials in DATABASE_URL', 'compose.yml', /postgres:\/\/[^@]*@/, 'postgres://agentchat:agentchat@', /DATABASE_URL has a literal or defaulted credential/],
    ['Redis without a password', 'compose.yml', /, "--requirepass", "[^"]*"/, '', /redis: no --requirepass/],
    ['an optional metrics token', 'compose.yml', /METRICS_TOKEN: \$\{METRICS_TOKEN:\?[^}]*\}/, 'METRICS_TOKEN: ${METRICS_TOKEN:-}', /app: METRICS_TOKEN is not a required variable/],
    ['readiness as the app health check', 'compose.yml', "3000/health/live'", "3000/health/ready'", /app-1: healthcheck uses \/health\/ready/],
    ['a writable root filesystem', 'compose.yml', '  read_only: true\n', '', /postgres: root filesystem not read_only/],
    ['no no-new-privileges', 'compose.yml', 'security_opt: ["no-new-privileges:true"]', 'security_opt: []', /redis: no security_opt no-new-privileges/],
    ['capabilities kept', 'compose.yml', '  cap_drop: [ALL]\n', '', /proxy: cap_drop does not include ALL/],
    ['no resource limits', 'compose.yml', '          memory: 256M\n', '', /redis: no cpus and memory limits/],
    ['Redis reachable from outside', 'compose.yml', '    internal: true\n', '', /redis: on network backend, which is not internal/],
    ['nginx overwriting the client request id', 'nginx.conf', /proxy_set_header X-Request-Id \$client_request_id;/, 'proxy_set_header X-Request-Id $request_id;', /location \/ does not pass the request id through/],
    ['nginx headers lost to inheritance', 'nginx.conf', /(location \/ \{\n\s*proxy_pass http:\/\/agent_chat;\n[^\n]*\n)\s*proxy_set_header Host \$host;\n/, '$1', /location \/ sets no Host/],
    ['/metrics served through nginx', 'nginx.conf', / {2}location \^~ \/metrics \{[\s\S]*?\n {2}\}\n/, '', /\/metrics is not blocked/],
    ['/metrics proxied', 'nginx.conf', /return 404 '[^']*';/, 'proxy_pass http://agent_chat;', /\/metrics is not blocked/],
    ['an upstream that is not a scaled instance', 'nginx.conf', 'server app-2:3000', 'server app:3000', /upstream servers .* are not the scaled app instances/],
    ['Grafana published beyond loopback', 'compose.yml', '"127.0.0.1:${GRAFANA_PORT:-3001}:3000"', '"${GRAFANA_PORT:-3001}:3000"', /grafana: publishes beyond loopback/],
    ['a default Grafana password', 'compose.yml', /GF_SECURITY_ADMIN_PASSWORD: \$\{GRAFANA_ADMIN_PASSWORD:\?[^}]*\}/, 'GF_SECURITY_ADMIN_PASSWORD: admin', /grafana: GF_SECURITY_ADMIN_PASSWORD is not a required variable/],
    ['a root container', 'Dockerfile', /^USER node$/m, 'USER root', /Dockerfile: the runtime stage does not run as a non-root USER/],
    ['an older Node', 'Dockerfile', 'ARG NODE_VERSION=24', 'ARG NODE_VERSION=20', /Dockerfile: not built on Node 24/],
    ['readiness as the image health check', 'Dockerfile', "'/health/live'", "'/health/ready'", /Dockerfile: HEALTHCHECK does not use \/health\/live/],
  ] as const)('fails on %s', async (_, file, from, to, problem) => {
    const { code, output } = await check(mutatedCopy(file, from, to));
    expect(output).toMatch(problem);
    expect(code).toBe(1);
  });

  it('reports a file it cannot parse in one line', async () => {
    const { code, output } = await check(mutatedCopy('compose.yml', 'services:\n', 'services:\n  broken: [\n'));
    expect(code).toBe(1);
    expect(output.trim().split('\n')).toHaveLength(1);
  });
});
