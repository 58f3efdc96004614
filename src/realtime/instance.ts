import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';

/** Identifies this process among the instances sharing the database and Redis. */
export const INSTANCE_ID = `${hostname().slice(0, 32)}-${process.pid}-${randomUUID().slice(0, 8)}`;
