import 'reflect-metadata';
import type { TestProject } from 'vitest/node';
import { parseDatabaseSettings } from '../../src/config/database.config.js';
import { AppDataSource } from '../../src/database/data-source.factory.js';
import { adminQuery, testDatabaseServerUrl, withDatabase } from './database.js';

/** On PostgreSQL, migrate one template database once; every test file clones it. */
export default async function setup(project: TestProject): Promise<(() => Promise<void>) | void> {
  const server = testDatabaseServerUrl();
  if (!server) return;
  const template = `agentchat_template_${process.pid}`;
  project.provide('templateDatabase', template);
  await adminQuery(`DROP DATABASE IF EXISTS "${template}" WITH (FORCE)`);
  await adminQuery(`CREATE DATABASE "${template}"`);
  const dataSource = await AppDataSource.create({
    settings: parseDatabaseSettings({ DATABASE_URL: withDatabase(server, template), DATABASE_POOL_SIZE: '2' }),
    embeddedDataDir: undefined,
  });
  await dataSource.initialize();
  await dataSource.migrate();
  await dataSource.destroy();
  return async () => {
    await adminQuery(`DROP DATABASE IF EXISTS "${template}" WITH (FORCE)`);
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    templateDatabase: string;
  }
}
