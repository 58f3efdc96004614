/**
 * Entry point of the TypeORM CLI (`npm run migration:*`): the same DataSource the app uses.
 * Without DATABASE_URL it opens the embedded database under DATA_DIR, so stop the app first.
 */
import 'reflect-metadata';
import { IN_MEMORY, parseAppSettings } from '../config/app.config.js';
import { parseDatabaseSettings } from '../config/database.config.js';
import { AppDataSource } from './data-source.factory.js';

const app = parseAppSettings(process.env);
export default await AppDataSource.create({
  settings: parseDatabaseSettings(process.env),
  embeddedDataDir: app.dataDir === IN_MEMORY ? undefined : app.dataDir,
  applicationName: 'agent-chat-cli',
});
