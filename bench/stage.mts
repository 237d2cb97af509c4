// One benchmark stage in a fresh process, so its peak RSS is its own. Prints one JSON line.
// Usage: node --import tsx bench/stage.ts <capture> <read|decode|flow|flowstore|l7|store> <workers> [db]
import { rmSync } from 'node:fs';
import { analyzeCapture } from '../src/engine/pipeline';
import { analyzeCaptureSharded } from '../src/engine/sharded';
import { importCaptures } from '../src/engine/import';
import { Store } from '../src/engine/store/store';

const [file, stage, workersArg, db] = process.argv.slice(2);
const workers = Number(workersArg ?? 1);
const t0 = performance.now();
const cpu0 = process.cpuUsage();
let packets = 0;
let flows = 0;
let fileBytes = 0;
let requests = 0;
if (stage === 'store' || stage === 'flowstore') {
  rmSync(db, { force: true });
  rmSync(`${db}.wal`, { force: true });
  const store = await Store.open(db);
  // flowstore: issue #2's pipeline (flows into DuckDB, no application protocols).
  const [r] = await importCaptures(store, [file], { workers, flowsOnly: stage === 'flowstore' });
  await store.close();
  packets = r.capture.packets;
  flows = r.flows;
  requests = r.requests;
  fileBytes = r.capture.fileBytes;
} else if (stage === 'l7') {
  // Everything but the store: a sink that only counts (its presence turns the L7 stage on).
  const r = await analyzeCapture(file, {
    sink: {
      beginCapture: async () => ({ captureId: 1, firstFlowId: 1 }),
      addFlow: () => {},
      addRequest: () => void requests++,
      endCapture: async () => {},
    },
  });
  packets = r.capture.packets;
  flows = r.flows;
  fileBytes = r.capture.fileBytes;
} else if (stage === 'flow' && workers > 1) {
  const r = await analyzeCaptureSharded(file, workers);
  packets = r.capture.packets;
  flows = r.flows;
  fileBytes = r.capture.fileBytes;
} else {
  const r = await analyzeCapture(file, { stopAfter: stage as 'read' | 'decode' | 'flow' });
  packets = r.capture.packets;
  flows = r.flows;
  fileBytes = r.capture.fileBytes;
}
const seconds = (performance.now() - t0) / 1000;
const maxRssMB = process.resourceUsage().maxRSS / 1024;
const cpu = process.cpuUsage(cpu0);
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
process.stdout.write(JSON.stringify({ stage, workers, seconds, cpuSeconds, packets, flows, requests, fileBytes, maxRssMB }) + '\n');
