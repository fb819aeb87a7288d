// Preloaded into a child (`node --import <this file>`): when the process exits normally it writes
// process.resourceUsage() (maxRSS in KiB, user/system CPU in µs) as JSON to $BENCH_RUSAGE_FILE.
// A SIGKILLed process writes nothing; the /proc sampler covers that case.
import { writeFileSync } from 'node:fs';

const file = process.env.BENCH_RUSAGE_FILE;
if (file) {
  process.on('exit', () => {
    try {
      writeFileSync(file, JSON.stringify(process.resourceUsage()));
    } catch {
      // the benchmark reports the /proc samples instead
    }
  });
}
