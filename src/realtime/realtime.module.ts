import { Module } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { RedisConnection } from './redis.connection.js';

@Module({
  providers: [{ provide: RedisConnection, inject: [AppConfig], useFactory: (config: AppConfig) => new RedisConnection(config.redis) }],
  exports: [RedisConnection],
})
export class RealtimeModule {}
