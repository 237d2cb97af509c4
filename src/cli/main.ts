// `flowscope` — analyze captures into a DuckDB store, query it, serve the UI.

import { analyzeCommand } from './analyze';
import { queryCommand } from './query';
import { requestsCommand } from './requests';
import { serveCommand } from './serve';
import { UsageError } from './args';
import { CaptureError } from '../engine/capture/types';
import { K8sMetadataError } from '../engine/tag/k8s-metadata';

const HELP = `flowscope — what a distributed system is doing, from its packets alone

Usage:
  flowscope analyze <capture...> [--db PATH] [--json] [--top N] [--workers N] [--flows-only] [--k8s FILE]...
                   [--grouping service|pod|ip]
      Read pcap / pcapng files (gzip allowed), reconstruct flows with TCP health, store them in a
      DuckDB database and print a summary. Without --db the store is in memory (not kept).
      --workers N: 0 (default) all on the main thread; 1 parses on a worker thread while the main
      thread writes DuckDB; more shard flows over N workers (see bench/RESULTS.md before using it).
      --flows-only skips application protocols: flows and TCP health only, no requests (faster).
      --k8s FILE loads Kubernetes metadata (kubectl get pods,services,endpoints,nodes -A -o json > FILE;
      repeatable) so services and pods are named instead of IPs; --grouping names map nodes by
      service (default), pod or IP.
  flowscope query "<SQL>" --db PATH [--json] [--max-rows N]
      Run SQL against a store (tables: captures, interfaces, flows, requests, spans).
  flowscope requests <capture...> | --db PATH [--filter "field op value"]... [--sort field[:desc]]
                    [--limit N] [--offset N] [--grouping service|pod|ip] [--all-hops] [--k8s FILE]... [--json]
      The request log, each request once however many hops saw it (--all-hops: every hop's row).
      Filter ops: = != < <= > >= contains in, e.g. --filter "response_status in (client_error, server_error)".
  flowscope serve [capture...] [--port N] [--host ADDR] [--db PATH] [--k8s FILE]...
      Serve the UI and the API to a browser on 127.0.0.1 (random token in the printed URL),
      importing the captures given. Without --db the store is in memory (not kept).
  flowscope --help | --version

Exit status: 0 ok, 1 a capture was malformed (everything before the fault is kept), 2 usage error
(a --k8s file that is not usable Kubernetes metadata, too: nothing is analysed then).`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'analyze':
      return analyzeCommand(rest);
    case 'query':
      return queryCommand(rest);
    case 'requests':
      return requestsCommand(rest);
    case 'serve':
      return serveCommand(rest);
    case '--version':
    case 'version':
      process.stdout.write(`flowscope ${process.env.npm_package_version ?? '0.1.0'}\n`);
      return 0;
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(HELP + '\n');
      return cmd === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command '${cmd}'`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`flowscope: ${err.message}\n\n${HELP}\n`);
      process.exitCode = 2;
    } else if (err instanceof K8sMetadataError) {
      process.stderr.write(`flowscope: ${err.message}\n`);
      process.exitCode = 2;
    } else if (err instanceof CaptureError) {
      process.stderr.write(`flowscope: ${err.message}\n`);
      process.exitCode = 1;
    } else {
      process.stderr.write(`flowscope: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    }
  },
);
