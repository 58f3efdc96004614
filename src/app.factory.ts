import { randomUUID } from 'node:crypto';
import multipart from '@fastify/multipart';
import { RequestMethod } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { SwaggerModule } from '@nestjs/swagger';
import type { FastifyInstance, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import type { Logger as Pino } from 'pino';
import { AppModule } from './app.module.js';
import { CHAT_ROUTE } from './ai-sdk/ai-sdk.controller.js';
import { AccessTokenService, bearerToken } from './auth/access-token.service.js';
import type { AuthUser } from './common/auth/auth-user.js';
import { jsonBodyParser } from './common/http/json-body.js';
import { securityHeaders } from './common/http/security-headers.js';
import { createRootLogger, PinoNestLogger } from './common/logging/logger.js';
import type { AppConfig } from './config/app-config.js';
import { ChatIoAdapter } from './gateway/socket-io.adapter.js';
import { MetricsService } from './metrics/metrics.service.js';
import { buildOpenApiDocument } from './openapi.js';

export const API_PREFIX = 'api/v1';
const REQUEST_ID = /^[\w.:-]{1,128}$/;

export interface CreateAppOptions {
  /** Defaults to a JSON logger on stdout at LOG_LEVEL. */
  logger?: Pino;
}

/** Honour a sane x-request-id from a proxy or client; otherwise mint one. */
function requestId(request: { headers: Record<string, string | string[] | undefined> }): string {
  const header = request.headers['x-request-id'];
  return typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID();
}

/** Swagger UI needs inline styles and data: images; everything else stays locked down. */
const HELMET_OPTIONS = {
  contentSecurityPolicy: {
    directives: {
      defaultSrc: [`'self'`],
      styleSrc: [`'self'`, `'unsafe-inline'`],
      imgSrc: [`'self'`, 'data:', 'validator.swagger.io'],
      scriptSrc: [`'self'`],
    },
  },
};

function installRequestHooks(fastify: FastifyInstance, logger: Pino, metrics: MetricsService, security: Readonly<Record<string, string>>): void {
  // Callback-style hooks: an async hook costs a promise per request for nothing here.
  fastify.addHook('onRequest', (request, reply, done) => {
    void reply.headers(security).header('x-request-id', request.id);
    done();
  });
  fastify.addHook('onResponse', (request: FastifyRequest, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const seconds = reply.elapsedTime / 1000;
    metrics.observeHttpRequest(request.method, route, reply.statusCode, seconds);
    if (logger.isLevelEnabled('info')) logger.info(
      { reqId: request.id, method: request.method, route, statusCode: reply.statusCode, ms: Math.round(reply.elapsedTime) },
      'request completed',
    );
    done();
  });
}

function setUpOpenApi(app: NestFastifyApplication): void {
  // Built on the first request for the docs, not at start-up: scanning every route takes ~0.1 s.
  SwaggerModule.setup('api/docs', app, () => buildOpenApiDocument(app), { jsonDocumentUrl: 'api/docs-json', yamlDocumentUrl: 'api/docs-yaml' });
}

/**
 * useChat posts its whole copy of the conversation to POST /chat: that route alone takes bodies up
 * to CHAT_BODY_LIMIT. A route's own limit wins over the parser's; routes are registered by init(),
 * after this hook. Fastify reads and parses a body before Nest's guards run, so the caller is
 * authenticated first (the same check as the guard's): nobody unknown gets a large body parsed.
 */
function allowLargerChatBodies(fastify: FastifyInstance, config: AppConfig, accessTokens: AccessTokenService): void {
  const authenticateFirst: onRequestAsyncHookHandler = async (request) => {
    // Kept on the request: the guard then has nothing left to check.
    (request as { user?: AuthUser }).user = await accessTokens.authenticate(bearerToken(request) ?? '');
  };
  fastify.addHook('onRoute', (route) => {
    if (route.method !== 'POST' || route.url !== `/${API_PREFIX}/${CHAT_ROUTE}`) return;
    route.bodyLimit = config.limits.chatBodyLimit;
    route.onRequest = [...[route.onRequest ?? []].flat(), authenticateFirst];
  });
}

/** Builds the application (not yet listening): used by main.ts, the tests and the benchmarks. */
export async function createApp(config: AppConfig, options: CreateAppOptions = {}): Promise<NestFastifyApplication> {
  const logger = options.logger ?? createRootLogger(config.app);
  const adapter = new FastifyAdapter({
    bodyLimit: config.app.bodyLimit,
    trustProxy: config.app.trustProxy,
    genReqId: requestId,
    requestIdHeader: false,
    return503OnClosing: true,
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config), adapter, {
    logger: new PinoNestLogger(logger),
    abortOnError: false,
  });

  const fastify = app.getHttpAdapter().getInstance();
  installRequestHooks(fastify, logger, app.get(MetricsService), await securityHeaders(HELMET_OPTIONS));
  allowLargerChatBodies(fastify, config, app.get(AccessTokenService));
  app.useBodyParser('application/json', { bodyLimit: config.app.bodyLimit }, jsonBodyParser(fastify, config.limits.jsonMaxDepth));
  app.useWebSocketAdapter(new ChatIoAdapter(app, config));
  // Uploads are read by their handler, with its own limits; an oversized file is reported as a 413 there.
  await app.register(multipart, { throwFileSizeLimit: false });
  app.enableCors({
    origin: config.app.corsOrigins,
    credentials: true,
    // @fastify/cors allows only GET, HEAD and POST unless told otherwise.
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
    exposedHeaders: ['Content-Disposition', 'ETag', 'Retry-After', 'X-Request-Id'],
    maxAge: 600,
  });
  app.setGlobalPrefix(API_PREFIX, {
    exclude: [
      { path: 'health/live', method: RequestMethod.GET },
      { path: 'health/ready', method: RequestMethod.GET },
      { path: 'metrics', method: RequestMethod.GET },
    ],
  });
  // Without the docs their paths are unknown routes: 404 in the usual error shape.
  if (config.app.apiDocs) setUpOpenApi(app);
  await app.init();
  if (config.isProduction && config.app.metricsToken === undefined) {
    // Kept public for existing scrapers; process and request metrics should not reach the internet.
    logger.warn('METRICS_TOKEN is not set: /metrics answers anyone who can reach it. Set METRICS_TOKEN, or keep /metrics on the private network');
  }
  return app;
}
