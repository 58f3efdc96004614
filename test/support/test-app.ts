import 'reflect-metadata';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createApp, type CreateAppOptions } from '../../src/app.factory.js';
import { AppConfig } from '../../src/config/app-config.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { assertDocumentedResponse } from './openapi-validator.js';

export interface TestApp {
  app: NestFastifyApplication;
  /** http://127.0.0.1:PORT */
  baseUrl: string;
  config: AppConfig;
  /** fetch against the running app; relative paths are resolved against baseUrl. */
  http(path: string, init?: RequestInit & { json?: unknown; token?: string }): Promise<TestResponse>;
  close(): Promise<void>;
}

export interface TestResponse {
  status: number;
  headers: Headers;
  text: string;
  // Tests assert on arbitrary JSON shapes.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

/**
 * Boots the real AppModule on an ephemeral loopback port, with an isolated database: a fresh
 * in-memory PGlite by default, a cloned PostgreSQL database when TEST_DATABASE_URL is set.
 */
export async function startTestApp(env: Record<string, string> = {}, options: CreateAppOptions = {}): Promise<TestApp> {
  const database: TestDatabase = await createTestDatabase();
  const config = AppConfig.fromEnv({
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    DATA_DIR: 'memory://',
    // Tests register many users from one address; the limits have tests of their own.
    REGISTER_RATE_LIMIT: '100000',
    LOGIN_RATE_LIMIT: '100000',
    ...(database.url ? { DATABASE_URL: database.url } : {}),
    ...env,
  });
  const app = await createApp(config, options);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const baseUrl = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  let closed = false;

  return {
    app,
    baseUrl,
    config,
    async http(path, init = {}) {
      const { json, token, headers, ...rest } = init;
      const response = await fetch(new URL(path, baseUrl), {
        ...rest,
        headers: {
          ...(json !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(headers as Record<string, string> | undefined),
        },
        body: json !== undefined ? JSON.stringify(json) : rest.body,
      });
      const text = await response.text();
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      // Every answer an e2e test sees is also a check of the OpenAPI document.
      assertDocumentedResponse({ method: rest.method ?? 'GET', path: new URL(path, baseUrl).pathname, status: response.status, headers: response.headers, text });
      return { status: response.status, headers: response.headers, text, body };
    },
    async close() {
      if (closed) return;
      closed = true;
      await app.close();
      await database.drop();
    },
  };
}
