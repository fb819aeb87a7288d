/**
 * SIGHUP: the config file is read again and what can change at run time is applied at once
 * (log level, hub.max_rate); anything else that changed is named as needing a restart. A
 * config that does not validate changes nothing: the running agent is never broken by an edit.
 */
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';

export interface ReloadTarget {
  setMaxRate(pointsPerSecond: number | null): void;
}

export interface ReloadOutcome {
  applied: string[];
  needsRestart: string[];
}

export function applyRuntimeConfig(current: Config, next: Config, logger: Logger, target: ReloadTarget): ReloadOutcome {
  const applied: string[] = [];
  if (next.log.level !== current.log.level) {
    logger.level = next.log.level;
    applied.push(`log.level ${current.log.level} → ${next.log.level}`);
  }
  if (next.hub.max_rate !== current.hub.max_rate) {
    target.setMaxRate(next.hub.max_rate);
    applied.push(`hub.max_rate ${current.hub.max_rate ?? 'unlimited'} → ${next.hub.max_rate ?? 'unlimited'}`);
  }
  const needsRestart: string[] = [];
  const rest = (c: Config) => ({ ...c, log: undefined, hub: { ...c.hub, max_rate: undefined } });
  const before = rest(current) as Record<string, unknown>;
  const after = rest(next) as Record<string, unknown>;
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (key === 'hub') {
      const bh = before.hub as Record<string, unknown>;
      const ah = after.hub as Record<string, unknown>;
      for (const k of new Set([...Object.keys(bh), ...Object.keys(ah)])) {
        if (JSON.stringify(bh[k]) !== JSON.stringify(ah[k])) needsRestart.push(`hub.${k}`);
      }
    } else if (JSON.stringify(before[key]) !== JSON.stringify(after[key])) needsRestart.push(key);
  }
  return { applied, needsRestart };
}
