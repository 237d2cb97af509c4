// Bundles the CLI and its flow worker into dist/ (bin/flowscope.mjs runs dist/cli.mjs when present).
import { bundle } from './bundle.mjs';

await bundle({ cli: 'src/cli/main.ts', 'flow-worker': 'src/engine/shard-worker.ts' }, 'dist');
