// Checks the deployment files in docker/ without a Docker engine: compose.yml parses (YAML merge
// keys included, as Compose reads them), each profile starts what it says, every container is
// hardened and limited, health checks use liveness, no secret has a default, and nginx.conf passes
// request ids through and keeps /metrics internal. `node scripts/check-compose.mjs [dir]` checks
// the copy in dir (compose.yml, nginx.conf, Dockerfile) instead.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CORE_SCHEMA, load, mergeTag } from 'js-yaml';

/** What `--profile <name>` must start: nothing more, nothing less. */
const PROFILES = {
  single: ['app', 'postgres', 'redis', 'prometheus', 'grafana'],
  scaled: ['app-1', 'app-2', 'proxy', 'postgres', 'redis', 'prometheus', 'grafana'],
};
/** The services that may publish a port, per profile: the app alone, or nginx alone (and the dashboards). */
const PUBLISHED = { single: ['app', 'grafana'], scaled: ['proxy', 'grafana'] };
/** Published on the host's loopback only: reached through a tunnel or an authenticating proxy. */
const LOOPBACK_ONLY = ['grafana'];
/** What third-party entrypoints need to fix volume ownership before dropping to their user. */
const ALLOWED_CAPS = new Set(['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'SETGID', 'SETUID']);
const SECRET_NAME = /PASSWORD|SECRET|TOKEN|_KEY$|_AUTH$/;
/** Secrets the app can run without (empty means off); every other secret is required. */
const OPTIONAL_SECRETS = new Set(['OPENAI_API_KEY', 'ANTHROPIC_API_KEY']);
const REQUIRED_VARIABLE = /^\$\{[A-Z_][A-Z0-9_]*:\?[^}]*\}$/;

const profilesOf = (service) => service.profiles ?? [];
const list = (value) => (Array.isArray(value) ? value : value === undefined ? [] : [value]);
const healthTest = (service) => list(service.healthcheck?.test).join(' ');

function checkProfiles(services, problems) {
  for (const [name, service] of Object.entries(services)) {
    if (profilesOf(service).length === 0) problems.push(`${name}: no profile, so it starts with every profile`);
  }
  for (const [profile, expected] of Object.entries(PROFILES)) {
    const started = Object.keys(services).filter((name) => profilesOf(services[name]).includes(profile)).sort();
    if (started.join() !== [...expected].sort().join()) problems.push(`profile ${profile} starts ${started.join(', ') || 'nothing'}, expected ${expected.join(', ')}`);
    for (const name of started) {
      if (list(services[name].ports).length > 0 && !PUBLISHED[profile].includes(name)) problems.push(`profile ${profile}: ${name} publishes a port (only ${PUBLISHED[profile].join(', ')} may)`);
      for (const dependency of Object.keys(services[name].depends_on ?? {})) {
        if (!started.includes(dependency)) problems.push(`profile ${profile}: ${name} depends on ${dependency}, which the profile does not start`);
      }
    }
    for (const name of PUBLISHED[profile]) {
      if (started.includes(name) && list(services[name]?.ports).length === 0) problems.push(`profile ${profile}: ${name} publishes no port`);
    }
  }
}

function checkHardening(name, service, problems) {
  if (service.read_only !== true) problems.push(`${name}: root filesystem not read_only`);
  if (!list(service.security_opt).some((option) => /^no-new-privileges(:true)?$/.test(String(option)))) problems.push(`${name}: no security_opt no-new-privileges:true`);
  if (!list(service.cap_drop).includes('ALL')) problems.push(`${name}: cap_drop does not include ALL`);
  for (const cap of list(service.cap_add)) {
    if (service.build || !ALLOWED_CAPS.has(cap)) problems.push(`${name}: cap_add ${cap} not allowed`);
  }
  if (service.privileged) problems.push(`${name}: privileged`);
  const limits = service.deploy?.resources?.limits ?? {};
  if (!limits.cpus || !limits.memory) problems.push(`${name}: no cpus and memory limits (deploy.resources.limits)`);
  if (!service.pids_limit) problems.push(`${name}: no pids_limit`);
}

function checkHealth(name, service, problems) {
  const test = healthTest(service);
  if (!test) problems.push(`${name}: no healthcheck`);
  // An orchestrator restarts unhealthy containers: readiness there turns a database outage into restarts of every instance.
  if (test.includes('/health/ready')) problems.push(`${name}: healthcheck uses /health/ready (use /health/live)`);
  if (service.build && !test.includes('/health/live')) problems.push(`${name}: healthcheck does not use /health/live`);
}

/** Literal credentials, or defaults for secrets: every secret must come from a required variable. */
function checkSecrets(name, service, problems) {
  const environment = service.environment ?? {};
  if (Array.isArray(environment)) problems.push(`${name}: environment as a list (use a mapping)`);
  for (const [key, raw] of Object.entries(environment)) {
    const value = String(raw ?? '');
    if (SECRET_NAME.test(key) && !OPTIONAL_SECRETS.has(key) && !REQUIRED_VARIABLE.test(value)) problems.push(`${name}: ${key} is not a required variable (\${${key}:?…})`);
    if (OPTIONAL_SECRETS.has(key) && !/^\$\{[A-Z_0-9]+:-\}$/.test(value)) problems.push(`${name}: ${key} has a default`);
    const userinfo = /:\/\/([^/]*)@/.exec(value)?.[1];
    if (/:\/\//.test(value) && ['DATABASE_URL', 'REDIS_URL'].includes(key) && userinfo === undefined) problems.push(`${name}: ${key} has no credentials`);
    for (const part of (userinfo ?? '').split(/:(?![^{]*\})/)) {
      if (part !== '' && !REQUIRED_VARIABLE.test(part)) problems.push(`${name}: ${key} has a literal or defaulted credential`);
    }
  }
}

function checkApp(name, service, problems) {
  for (const key of ['DATABASE_URL', 'REDIS_URL', 'JWT_SECRET']) {
    if (!service.environment?.[key]) problems.push(`${name}: ${key} not set`);
  }
  if (!list(service.tmpfs).some((mount) => String(mount).startsWith('/tmp'))) problems.push(`${name}: no tmpfs for /tmp under a read-only root`);
}

function checkServices(compose, composeDir, problems) {
  const services = compose.services;
  for (const [name, service] of Object.entries(services)) {
    if (!service.image && !service.build) problems.push(`${name}: neither image nor build`);
    for (const dependency of Object.keys(service.depends_on ?? {})) {
      if (!services[dependency]) problems.push(`${name}: depends on unknown service ${dependency}`);
    }
    for (const volume of list(service.volumes)) {
      const source = String(volume).split(':')[0];
      if (source.startsWith('./') && !existsSync(join(composeDir, source))) problems.push(`${name}: missing ${source}`);
    }
    checkHardening(name, service, problems);
    checkHealth(name, service, problems);
    checkSecrets(name, service, problems);
    if (service.build) checkApp(name, service, problems);
  }
  for (const name of LOOPBACK_ONLY) {
    if (list(services[name]?.ports).some((port) => !String(port).startsWith('127.0.0.1:'))) problems.push(`${name}: publishes beyond loopback (bind 127.0.0.1)`);
  }
  const command = list(services.redis?.command).join(' ');
  if (!/--requirepass \$\{[A-Z_0-9]+:\?[^}]*\}/.test(command)) problems.push('redis: no --requirepass from a required variable');
  // Only the app instances reach the stores: they sit on internal networks alone.
  for (const name of ['postgres', 'redis']) {
    const networks = list(services[name]?.networks);
    if (networks.length === 0) problems.push(`${name}: on the default network (use an internal one)`);
    for (const network of networks) {
      if (!compose.networks?.[network]?.internal) problems.push(`${name}: on network ${network}, which is not internal`);
    }
  }
}

/** nginx.conf as nested blocks: { name, args, children }. Enough of the grammar for this file. */
export function parseNginx(text) {
  const root = { name: '', args: [], children: [] };
  const stack = [root];
  let words = [];
  const tokens = text.replace(/#[^\n]*/g, '').match(/'[^']*'|"[^"]*"|[{};]|[^\s{};'"]+/g) ?? [];
  for (const token of tokens) {
    if (token === '{' || token === ';') {
      const [name = '', ...args] = words.map((word) => word.replace(/^(['"])(.*)\1$/s, '$2'));
      const node = { name, args, children: [] };
      stack.at(-1).children.push(node);
      if (token === '{') stack.push(node);
      words = [];
    } else if (token === '}') {
      if (stack.length === 1) throw new Error('nginx.conf: unbalanced }');
      stack.pop();
    } else {
      words.push(token);
    }
  }
  if (stack.length > 1) throw new Error('nginx.conf: unclosed {');
  return root;
}

const walk = (node, visit) => node.children.forEach((child) => (visit(child), walk(child, visit)));

function checkNginx(text, services, problems) {
  const root = parseNginx(text);
  const idMaps = [];
  walk(root, (node) => {
    if (node.name !== 'map' || node.args[0] !== '$http_x_request_id') return;
    const keepsValid = node.children.some((entry) => entry.name.startsWith('~') && entry.args[0] === '$http_x_request_id');
    const mintsOtherwise = node.children.some((entry) => entry.name === 'default' && entry.args[0] === '$request_id');
    if (keepsValid && mintsOtherwise) idMaps.push(node.args[1]);
  });
  if (idMaps.length === 0) problems.push('nginx.conf: no map keeping a valid client X-Request-Id (else $request_id)');
  let proxied = 0;
  let metricsBlocked = false;
  walk(root, (node) => {
    if (node.name === 'location' && node.args.at(-1).startsWith('/metrics') && ['=', '^~'].includes(node.args[0])) {
      metricsBlocked = node.children.some((child) => child.name === 'return' && ['403', '404'].includes(child.args[0])) && !node.children.some((child) => child.name === 'proxy_pass');
    }
    if (node.name !== 'location' || !node.children.some((child) => child.name === 'proxy_pass')) return;
    proxied += 1;
    const header = (name) => node.children.find((child) => child.name === 'proxy_set_header' && child.args[0].toLowerCase() === name)?.args[1];
    if (!idMaps.includes(header('x-request-id'))) problems.push(`nginx.conf: location ${node.args.join(' ')} does not pass the request id through (proxy_set_header X-Request-Id ${idMaps[0] ?? '$…'})`);
    if (!header('host') || !header('x-forwarded-for')) problems.push(`nginx.conf: location ${node.args.join(' ')} sets no Host or X-Forwarded-For (headers set above a location are not inherited by one that sets its own)`);
  });
  if (proxied === 0) problems.push('nginx.conf: nothing is proxied');
  if (!metricsBlocked) problems.push('nginx.conf: /metrics is not blocked (location ^~ /metrics { return 404; })');
  const upstreams = [];
  walk(root, (node) => node.name === 'upstream' && node.children.forEach((child) => child.name === 'server' && upstreams.push(child.args[0].split(':')[0])));
  const scaledApps = PROFILES.scaled.filter((name) => services[name]?.build);
  if (upstreams.sort().join() !== scaledApps.sort().join()) problems.push(`nginx.conf: upstream servers ${upstreams.join(', ')} are not the scaled app instances ${scaledApps.join(', ')}`);
}

function checkDockerfile(text, problems) {
  const lines = text.replace(/\\\n/g, ' ').split('\n');
  const runtime = lines.slice(lines.findLastIndex((line) => /^FROM /i.test(line)));
  const user = runtime.filter((line) => /^USER /i.test(line)).at(-1)?.split(/\s+/)[1];
  if (!user || /^(root|0)(:|$)/.test(user)) problems.push('Dockerfile: the runtime stage does not run as a non-root USER');
  if (!/^ARG NODE_VERSION=24\b/m.test(text) || !/^FROM node:\$\{NODE_VERSION\}/m.test(text)) problems.push('Dockerfile: not built on Node 24');
  const health = runtime.find((line) => /^HEALTHCHECK /i.test(line)) ?? '';
  if (!health.includes('/health/live') || health.includes('/health/ready')) problems.push('Dockerfile: HEALTHCHECK does not use /health/live');
}

/** Every problem found in dir's compose.yml, nginx.conf and Dockerfile. */
export function checkDeployment(dir) {
  const problems = [];
  const compose = load(readFileSync(join(dir, 'compose.yml'), 'utf8'), { schema: CORE_SCHEMA.withTags(mergeTag) });
  const services = compose?.services ?? {};
  checkProfiles(services, problems);
  checkServices({ ...compose, services }, dir, problems);
  checkNginx(readFileSync(join(dir, 'nginx.conf'), 'utf8'), services, problems);
  checkDockerfile(readFileSync(join(dir, 'Dockerfile'), 'utf8'), problems);
  return { services: Object.keys(services), problems };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dir = resolve(process.argv[2] ?? fileURLToPath(new URL('../docker', import.meta.url)));
  let result;
  try {
    result = checkDeployment(dir);
  } catch (error) {
    console.error(`${dir}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
    process.exit(1);
  }
  if (result.problems.length) {
    console.error(`${dir}:\n${result.problems.map((problem) => `  - ${problem}`).join('\n')}`);
    process.exit(1);
  }
  console.log(`${dir}: ${result.services.length} services; profiles, hardening, limits, health checks, secrets and nginx.conf look right`);
}
