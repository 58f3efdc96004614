import { describe, expect, it } from 'vitest';
import { EventBudget } from './event-budget.js';

function budget(settings: { ratePerSecond?: number; burst?: number; floodLimit?: number } = {}) {
  const clock = { now: 0 };
  const subject = new EventBudget({ ratePerSecond: 10, burst: 5, floodLimit: 20, ...settings }, () => clock.now);
  return { subject, clock };
}

describe('EventBudget', () => {
  it('admits a burst, then the rate, and tells a refused client how long to wait', () => {
    const { subject, clock } = budget();
    for (let i = 0; i < 5; i++) expect(subject.admit()).toEqual({ admitted: true });
    expect(subject.admit()).toEqual({ admitted: false, retryAfterSeconds: 1, flooding: false });
    clock.now += 300;
    const admitted = Array.from({ length: 5 }, () => subject.admit().admitted).filter(Boolean);
    expect(admitted).toHaveLength(3);
  });

  it('lets a client just over the rate keep the rate, and never calls it a flood', () => {
    const { subject, clock } = budget();
    // 15 events a second against 10 a second, for a minute.
    const admissions = Array.from({ length: 900 }, () => {
      clock.now += 1000 / 15;
      return subject.admit();
    });
    const admitted = admissions.filter((a) => a.admitted).length;
    expect(admissions.some((a) => !a.admitted && a.flooding)).toBe(false);
    expect(admitted).toBeGreaterThanOrEqual(600);
    expect(admitted).toBeLessThanOrEqual(606);
  });

  it('calls a socket that keeps sending far past its limit a flood', () => {
    const { subject } = budget();
    const admissions = Array.from({ length: 30 }, () => subject.admit());
    expect(admissions.findIndex((a) => !a.admitted && a.flooding)).toBe(5 + 20);
    expect(budget({ floodLimit: 0 }).subject.admit()).toEqual({ admitted: true });
    const never = budget({ floodLimit: 0 }).subject;
    expect(Array.from({ length: 1000 }, () => never.admit()).some((a) => !a.admitted && a.flooding)).toBe(false);
  });

  it('runs metered work one at a time, charges its cost after, and refuses work while in debt', async () => {
    const { subject, clock } = budget();
    let running = 0;
    let most = 0;
    const work = (cost: number) =>
      subject.metered(async () => {
        most = Math.max(most, ++running);
        await new Promise((resolve) => setTimeout(resolve, 5));
        running--;
        return { value: cost, cost };
      });
    const results = await Promise.allSettled([work(8), work(1), work(1)]);
    expect(most).toBe(1);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected']);
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'RATE_LIMITED', retryAfterSeconds: 1 });
    // In debt by 3: ordinary events wait too, until the refill pays it back.
    expect(subject.admit().admitted).toBe(false);
    clock.now += 400;
    expect(subject.admit().admitted).toBe(true);
    expect(await work(1)).toBe(1);
  });
});
