import { type ChildProcess, execSync, spawn } from 'node:child_process';
import { waitUntil } from './conditions.js';

/** A redis-server of a test's own, on a loopback port, that the test can stop and start again. */
export class RedisServer {
  child: ChildProcess | undefined;
  constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    await waitUntil(
      () => {
        try {
          return execSync(`redis-cli -p ${this.port} ping`, { stdio: 'pipe' }).toString().includes('PONG');
        } catch {
          return false;
        }
      },
      'redis start',
      10_000,
    );
  }

  /** How many connections are subscribed to the channel: one per instance once its bus listens. */
  subscribers(channel: string): number {
    const [, count] = execSync(`redis-cli -p ${this.port} PUBSUB NUMSUB ${channel}`, { stdio: 'pipe' }).toString().trim().split('\n');
    return Number(count);
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
  }
}
