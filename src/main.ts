import 'reflect-metadata';
import { createApp } from './app.factory.js';
import { createRootLogger } from './common/logging/logger.js';
import { startupFields } from './common/logging/startup.js';
import { AppConfig } from './config/app-config.js';
import { ConfigError } from './config/env.js';
import { ReadinessService } from './health/readiness.service.js';

function loadConfig(): AppConfig {
  try {
    return AppConfig.fromEnv(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}

const config = loadConfig();
const logger = createRootLogger(config.app);

let app: Awaited<ReturnType<typeof createApp>>;
try {
  app = await createApp(config, { logger });
  await app.listen({ port: config.app.port, host: config.app.host });
} catch (error) {
  logger.fatal({ err: error }, 'Start-up failed');
  process.exit(1);
}
logger.info(startupFields(config, app.getHttpServer().address()), config.app.apiDocs ? 'Listening; API docs at /api/docs' : 'Listening');

let stopping = false;
async function shutdown(signal: NodeJS.Signals): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'Shutting down');
  const deadline = setTimeout(() => {
    logger.error('Graceful shutdown timed out; exiting');
    process.exit(1);
  }, config.app.shutdownTimeoutMs);
  deadline.unref();
  // Readiness flips to 503 first, so load balancers stop routing here before connections close.
  app.get(ReadinessService).markShuttingDown();
  if (config.app.shutdownDrainMs > 0) await new Promise((resolve) => setTimeout(resolve, config.app.shutdownDrainMs));
  try {
    await app.close();
    logger.info('Stopped cleanly');
    process.exit(0);
  } catch (error) {
    logger.error({ err: error }, 'Error during shutdown');
    process.exit(1);
  }
}

process.once('SIGTERM', (signal) => void shutdown(signal));
process.once('SIGINT', (signal) => void shutdown(signal));
