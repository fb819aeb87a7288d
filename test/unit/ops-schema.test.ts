/** The operations settings: defaults, validation messages, and that they merge into the main schema. */
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_HTTP_LISTEN,
  DEFAULT_JOB_SCHEDULES,
  DEFAULT_TOKEN_EXPIRY_WARNING_MS,
  opsConfigSchema,
  opsConfigShape,
} from '../../src/config/ops-schema.js';
import { configSchema } from '../../src/config/schema.js';

function messages(value: unknown): string[] {
  const r = opsConfigSchema.safeParse(value);
  if (r.success) throw new Error('expected problems');
  return r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

describe('ops config', () => {
  it('has a default for every key', () => {
    expect(opsConfigSchema.parse({})).toEqual({
      http: { listen: DEFAULT_HTTP_LISTEN },
      jobs: { ...DEFAULT_JOB_SCHEDULES },
      token_expiry_warning: DEFAULT_TOKEN_EXPIRY_WARNING_MS,
    });
    expect(DEFAULT_HTTP_LISTEN).toBe('127.0.0.1:9464');
    expect(DEFAULT_TOKEN_EXPIRY_WARNING_MS).toBe(7 * 86_400_000);
  });

  it('takes listen addresses, or null to turn the endpoint off', () => {
    expect(opsConfigSchema.parse({ http: { listen: null } }).http.listen).toBeNull();
    expect(opsConfigSchema.parse({ http: { listen: '0.0.0.0:9464' } }).http.listen).toBe('0.0.0.0:9464');
    expect(opsConfigSchema.parse({ http: { listen: '[::1]:9100' } }).http.listen).toBe('[::1]:9100');
    expect(messages({ http: { listen: 'localhost' } })).toEqual([expect.stringMatching(/^http\.listen: expected host:port/)]);
    expect(messages({ http: { listen: '127.0.0.1:70000' } })).toEqual(['http.listen: port 70000 is outside 0..65535']);
    expect(messages({ http: { port: 1 } })).toEqual([expect.stringMatching(/^http: .*port/)]);
  });

  it('takes cron schedules (5 or 6 fields), or null to turn a job off', () => {
    const jobs = opsConfigSchema.parse({ jobs: { vacuum: null, summary: '*/30 * * * * *' } }).jobs;
    expect(jobs).toEqual({ ...DEFAULT_JOB_SCHEDULES, vacuum: null, summary: '*/30 * * * * *' });
    expect(messages({ jobs: { wal_checkpoint: 'every 5 minutes' } })).toEqual([
      'jobs.wal_checkpoint: expected a cron expression like "*/5 * * * *" (minute hour day month weekday, optional seconds first), found "every 5 minutes"',
    ]);
    expect(messages({ jobs: { retention: '0 * * * *' } })).toEqual([expect.stringMatching(/^jobs: .*retention/)]);
  });

  it('reads token_expiry_warning as a duration and catches a bare number of days', () => {
    expect(opsConfigSchema.parse({ token_expiry_warning: '36h' }).token_expiry_warning).toBe(36 * 3_600_000);
    expect(opsConfigSchema.parse({ token_expiry_warning: '14d' }).token_expiry_warning).toBe(14 * 86_400_000);
    expect(messages({ token_expiry_warning: 7 })).toEqual([
      'token_expiry_warning: expected a duration of at least 1h, like 7d or 36h (a bare number means milliseconds)',
    ]);
  });

  it('is part of the main schema, with its defaults', () => {
    for (const key of Object.keys(opsConfigShape)) expect(configSchema.shape).toHaveProperty(key);
    const merged = configSchema;
    const minimal = { hub: { url: 'http://127.0.0.1:1' }, state_dir: '/tmp/x', sources: [{ name: 'a', type: 'file', path: '/data/*.jsonl', format: 'jsonl' }] };
    const parsed = merged.parse(minimal);
    expect(parsed.http.listen).toBe(DEFAULT_HTTP_LISTEN);
    expect(parsed.jobs.token_check).toBe(DEFAULT_JOB_SCHEDULES.token_check);
    expect(parsed.shutdown_timeout).toBe(10_000);
  });
});
