// Checks docker/compose.yml without a Docker engine: it parses (YAML merge keys included, as
// Compose reads them) and every service has what running it needs.
import { readFileSync, existsSync } from 'node:fs';
import { CORE_SCHEMA, load, mergeTag } from 'js-yaml';

const file = new URL('../docker/compose.yml', import.meta.url);
const compose = load(readFileSync(file, 'utf8'), { schema: CORE_SCHEMA.withTags(mergeTag) });
const problems = [];
const services = compose?.services ?? {};
for (const [name, service] of Object.entries(services)) {
  if (!service.image && !service.build) problems.push(`${name}: neither image nor build`);
  if (!service.healthcheck && !service.build) problems.push(`${name}: no healthcheck`);
  for (const dependency of Object.keys(service.depends_on ?? {})) {
    if (!services[dependency]) problems.push(`${name}: depends on unknown service ${dependency}`);
  }
  for (const volume of service.volumes ?? []) {
    const source = String(volume).split(':')[0];
    if (source.startsWith('./') && !existsSync(new URL(source, file))) problems.push(`${name}: missing ${source}`);
  }
  if (service.build) {
    for (const key of ['DATABASE_URL', 'REDIS_URL', 'JWT_SECRET']) {
      if (!service.environment?.[key]) problems.push(`${name}: ${key} not set`);
    }
  }
}
for (const required of ['app', 'postgres', 'redis', 'proxy']) if (!services[required]) problems.push(`missing service ${required}`);
if (problems.length) {
  console.error(`docker/compose.yml: ${problems.join('; ')}`);
  process.exit(1);
}
console.log(`docker/compose.yml: ${Object.keys(services).length} services look complete`);
