import 'reflect-metadata';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { Logger } from '@nestjs/common';
import { Client } from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseDatabaseSettings } from '../config/database.config.js';
import { AppDataSource, dataSourceOptions } from './data-source.factory.js';
import { CONNECTION_FILE, EmbeddedPostgres, embeddedDatabaseHolder, readEmbeddedConnection } from './embedded-postgres.js';
import { MIGRATIONS } from './migrations.js';
import { extractTar, readTemplate, writeTemplate } from './pglite-template.js';

/** initdb gives every cluster its own identifier; one started from the template has the template's. */
async function systemIdentifier(url: string): Promise<string> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()');
    return rows[0]!.id;
  } finally {
    await client.end();
  }
}

/** The same template with its pg_control overwritten: it unpacks, but PostgreSQL refuses it. */
function unstartableCopy(template: string, file: string): void {
  const tar = readTemplate(template);
  for (let offset = 0; offset + 512 <= tar.length; ) {
    const name = tar.subarray(offset, offset + 100).toString('utf8').replace(/\0.*$/s, '');
    const size = Number.parseInt(tar.subarray(offset + 124, offset + 136).toString('utf8').replace(/\0.*$/s, '').trim() || '0', 8);
    if (name.replace(/^\//, '') === 'global/pg_control') {
      tar.fill(0xff, offset + 512, offset + 512 + size);
      writeFileSync(file, gzipSync(tar));
      return;
    }
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  throw new Error('no pg_control in the template');
}

describe('EmbeddedPostgres', () => {
  let scratch: string;
  let template: string;
  let templateIdentifier: string;
  const settings = parseDatabaseSettings({ DATABASE_POOL_SIZE: '2' });
  const warn = vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);

  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'embedded-postgres-'));
    template = join(scratch, 'template.tar.gz');
    await writeTemplate(template);
    const unpacked = join(scratch, 'unpacked');
    extractTar(readTemplate(template), unpacked);
    templateIdentifier = readFileSync(join(unpacked, 'global', 'pg_control')).readBigUInt64LE(0).toString();
  });
  afterEach(() => warn.mockClear());
  afterAll(() => {
    warn.mockRestore();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('starts a new data directory from the template: migrated, written to, and still there after a restart', async () => {
    const dataDir = join(scratch, 'fresh');
    const first = await EmbeddedPostgres.start({ dataDir, template });
    try {
      expect(await systemIdentifier(first.url)).toBe(templateIdentifier);
      const dataSource = new AppDataSource(dataSourceOptions(first.url, settings, 'test'));
      await dataSource.initialize();
      await dataSource.migrate();
      await dataSource.query(`INSERT INTO users (email, display_name) VALUES ('kept@example.com', 'Kept')`);
      await dataSource.destroy();
    } finally {
      await first.stop();
    }
    expect(existsSync(join(dataDir, 'pgdata.new'))).toBe(false);

    const second = await EmbeddedPostgres.start({ dataDir, template });
    try {
      expect(await systemIdentifier(second.url)).toBe(templateIdentifier);
      const dataSource = new AppDataSource(dataSourceOptions(second.url, settings, 'test'));
      await dataSource.initialize();
      expect(await dataSource.showMigrations()).toBe(false);
      await dataSource.migrate();
      const applied: { name: string }[] = await dataSource.query('SELECT name FROM migrations ORDER BY id');
      expect(applied.map((row) => row.name)).toEqual(MIGRATIONS.map((migration) => migration.name));
      expect(await dataSource.query(`SELECT email FROM users`)).toEqual([{ email: 'kept@example.com' }]);
      await dataSource.destroy();
    } finally {
      await second.stop();
    }
    expect(warn).not.toHaveBeenCalled();
  });

  it('starts an in-memory database from the template', async () => {
    const db = await EmbeddedPostgres.start({ dataDir: undefined, template });
    try {
      expect(await systemIdentifier(db.url)).toBe(templateIdentifier);
    } finally {
      await db.stop();
    }
    expect(warn).not.toHaveBeenCalled();
  });

  it('has pgvector however the database starts: in memory or on disk, from the template or initdb, new or reopened', async () => {
    const nearest = async (url: string) => {
      const client = new Client({ connectionString: url });
      await client.connect();
      try {
        return (await client.query<{ id: number }>(`SELECT id FROM points ORDER BY embedding <=> '[1, 0.1]' LIMIT 1`)).rows;
      } finally {
        await client.end();
      }
    };
    const create = async (url: string) => {
      const client = new Client({ connectionString: url });
      await client.connect();
      try {
        await client.query('CREATE EXTENSION IF NOT EXISTS vector');
        await client.query(`CREATE TABLE points (id int PRIMARY KEY, embedding vector)`);
        await client.query(`INSERT INTO points VALUES (1, '[1, 0]'), (2, '[0, 1]')`);
      } finally {
        await client.end();
      }
    };
    for (const options of [
      { dataDir: undefined, template },
      { dataDir: undefined, template: join(scratch, 'missing.tar.gz') },
      { dataDir: join(scratch, 'vectors-templated'), template },
      { dataDir: join(scratch, 'vectors-initdb'), template: join(scratch, 'missing.tar.gz') },
    ]) {
      const db = await EmbeddedPostgres.start(options);
      try {
        await create(db.url);
        expect(await nearest(db.url)).toEqual([{ id: 1 }]);
      } finally {
        await db.stop();
      }
      if (!options.dataDir) continue;
      const reopened = await EmbeddedPostgres.start(options);
      try {
        expect(await nearest(reopened.url)).toEqual([{ id: 1 }]);
      } finally {
        await reopened.stop();
      }
    }
    expect(warn).not.toHaveBeenCalled();
  });

  it('runs initdb, quietly, when there is no template', async () => {
    const db = await EmbeddedPostgres.start({ dataDir: join(scratch, 'untemplated'), template: join(scratch, 'missing.tar.gz') });
    try {
      expect(await systemIdentifier(db.url)).not.toBe(templateIdentifier);
    } finally {
      await db.stop();
    }
    expect(warn).not.toHaveBeenCalled();
  });

  it('falls back to initdb, with a warning, when the template is not a template', async () => {
    const damaged = join(scratch, 'damaged.tar.gz');
    writeFileSync(damaged, 'not a gzipped tar');
    const db = await EmbeddedPostgres.start({ dataDir: undefined, template: damaged });
    try {
      expect(await systemIdentifier(db.url)).not.toBe(templateIdentifier);
    } finally {
      await db.stop();
    }
    expect(warn).toHaveBeenCalledOnce();
  });

  it('falls back to initdb, with a warning, when the unpacked template does not start', async () => {
    const unstartable = join(scratch, 'unstartable.tar.gz');
    unstartableCopy(template, unstartable);
    const dataDir = join(scratch, 'recovered');
    const first = await EmbeddedPostgres.start({ dataDir, template: unstartable });
    let identifier: string;
    try {
      identifier = await systemIdentifier(first.url);
      expect(identifier).not.toBe(templateIdentifier);
    } finally {
      await first.stop();
    }
    expect(warn).toHaveBeenCalledOnce();
    // The database initdb made is the one kept.
    const second = await EmbeddedPostgres.start({ dataDir, template: unstartable });
    try {
      expect(await systemIdentifier(second.url)).toBe(identifier);
    } finally {
      await second.stop();
    }
  });

  describe('privacy', () => {
    /** Another process of the same user, trying to connect with what it can find out. */
    async function connectFromAnotherProcess(url: string): Promise<string> {
      const script = `
        const { Client } = require('pg');
        const client = new Client({ connectionString: process.argv[1] });
        client.connect().then(() => client.query('SELECT 1')).then(() => { console.log('connected'); return client.end(); })
          .catch((error) => console.log(error.code ?? error.message));`;
      const { stdout } = await promisify(execFile)(process.execPath, ['-e', script, url], { cwd: process.cwd(), timeout: 20_000 });
      return stdout.trim();
    }

    it('serves the database only to this process: a private unix socket, and a password kept in memory', async () => {
      const db = await EmbeddedPostgres.start({ dataDir: undefined, template });
      try {
        const url = new URL(db.url);
        const socketDir = url.searchParams.get('host')!;
        expect(socketDir).toMatch(/^\//);
        expect(statSync(socketDir).mode & 0o777).toBe(0o700);
        expect(statSync(join(socketDir, '.s.PGSQL.5432')).isSocket()).toBe(true);
        expect(url.password.length).toBeGreaterThanOrEqual(32);

        expect(await connectFromAnotherProcess(db.url)).toBe('connected');
        const withoutPassword = new URL(db.url);
        withoutPassword.password = '';
        expect(await connectFromAnotherProcess(withoutPassword.toString())).toBe('28P01');
        const guessed = new URL(db.url);
        guessed.password = 'postgres';
        expect(await connectFromAnotherProcess(guessed.toString())).toBe('28P01');
      } finally {
        await db.stop();
      }
      expect(existsSync(new URL(db.url).searchParams.get('host')!)).toBe(false);
    });

    it('removes the socket directory a killed process left behind, and no live one', async () => {
      const abandoned = mkdtempSync(join(tmpdir(), 'agentchat-pg-999999999-'));
      const live = mkdtempSync(join(tmpdir(), `agentchat-pg-${process.pid}-`));
      const db = await EmbeddedPostgres.start({ dataDir: undefined, template });
      try {
        expect(existsSync(abandoned)).toBe(false);
        expect(existsSync(live)).toBe(true);
      } finally {
        await db.stop();
        rmSync(live, { recursive: true, force: true });
      }
    });

    it('keeps no socket in the data directory and none on a TCP port', async () => {
      const dataDir = join(scratch, 'private');
      const db = await EmbeddedPostgres.start({ dataDir, template });
      try {
        expect(existsSync(join(dataDir, '.s.PGSQL.5432'))).toBe(false);
        expect(new URL(db.url).port).toBe('');
      } finally {
        await db.stop();
      }
    });

    it('tells the owner of DATA_DIR how to reach it (for backups) in a file only the owner can read, removed on stop', async () => {
      const dataDir = join(scratch, 'published');
      const db = await EmbeddedPostgres.start({ dataDir, template });
      const file = join(dataDir, CONNECTION_FILE);
      try {
        expect(statSync(file).mode & 0o777).toBe(0o600);
        expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ pid: process.pid, url: db.url });
        // Only the live holder's file counts: this process holds it, so to itself there is no other holder.
        expect(embeddedDatabaseHolder(dataDir)).toBeUndefined();
        expect(readEmbeddedConnection(dataDir, process.pid)).toEqual({ pid: process.pid, url: db.url });
        expect(readEmbeddedConnection(dataDir, process.pid + 1)).toBeUndefined();
        expect(await connectFromAnotherProcess(db.url)).toBe('connected');
      } finally {
        await db.stop();
      }
      expect(existsSync(file)).toBe(false);
      expect(existsSync(join(dataDir, 'pgdata.lock'))).toBe(false);
    });
  });
});
