/**
 * The hooks every end-to-end file needs: a fresh hub emulator and temp folder per test, and after
 * it, every agent process it started killed and the emulator closed (a failing test must not
 * leave a process behind for the next).
 */
import { afterEach, beforeEach } from 'vitest';
import { createHubEmulator, type HubEmulator } from '../../src/emulator/index.js';
import type { AgentProcess } from './agent-process.js';
import { tempDir } from './tmp.js';

/** Before each test: an emulator and a folder, handed to `use`. Returns the list to push started agents to. */
export function freshHubEachTest(use: (hub: HubEmulator, dir: string) => void): AgentProcess[] {
  let hub: HubEmulator | undefined;
  beforeEach(async () => {
    hub = await createHubEmulator();
    use(hub, tempDir());
  });
  return stopAfterEachTest(() => hub);
}

/**
 * After each test: the agents pushed to the returned list are killed, `hub()`'s emulator closed,
 * then `forget` called (a file whose tests start their own emulator sets it back to undefined).
 */
export function stopAfterEachTest(hub: () => HubEmulator | undefined, forget: () => void = () => undefined): AgentProcess[] {
  const running: AgentProcess[] = [];
  afterEach(async () => {
    for (const p of running.splice(0)) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    await hub()?.close();
    forget();
  });
  return running;
}
