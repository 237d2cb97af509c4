// TLS server and clients for samples/l7/tls/generate.sh (run inside its network namespace): a Node TLS
// server (SNI, ALPN h2/http/1.1, TLS 1.2–1.3) and a fixed list of client handshakes, each recorded from
// the client's side (what it offered, what it negotiated, how it failed) as the ground truth.
// usage: node workload.mjs CERTDIR OUT.json
import { readFileSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import tls from 'node:tls';

const [dir, out] = process.argv.slice(2);
const read = (f) => readFileSync(`${dir}/${f}`);
const PORT = 8443;
const server = tls.createServer({
  key: read('server.key'),
  cert: read('server.crt'),
  ALPNProtocols: ['h2', 'http/1.1'],
  minVersion: 'TLSv1.2',
  maxVersion: 'TLSv1.3',
});
server.on('secureConnection', (s) => {
  s.on('data', (d) => s.write(`echo ${d.length} bytes\n`));
  s.on('end', () => s.end());
  s.on('error', () => {});
});
server.on('tlsClientError', () => {});
await new Promise((r) => server.listen(PORT, '127.0.0.1', r));

const cases = [
  { name: 'tls13-h2', servername: 'api.example.test', ALPNProtocols: ['h2', 'http/1.1'], ca: 'ca.crt' },
  { name: 'tls12-http1', servername: 'api.example.test', ALPNProtocols: ['http/1.1'], ca: 'ca.crt', maxVersion: 'TLSv1.2' },
  { name: 'tls13-no-alpn', servername: 'www.example.test', ca: 'ca.crt' },
  // Node checks the chain only after the handshake (no alert on the wire): openssl s_client with
  // -verify_return_error aborts the handshake with an alert, as most clients do.
  { name: 'tls12-unknown-ca', servername: 'api.example.test', ALPNProtocols: ['h2'], ca: 'other-ca.crt', openssl: ['-tls1_2'] },
  { name: 'tls13-unknown-ca', servername: 'api.example.test', ALPNProtocols: ['h2'], ca: 'other-ca.crt', openssl: ['-tls1_3'] },
  { name: 'tls11-refused', servername: 'api.example.test', ca: 'ca.crt', minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' },
];

const results = [];
for (const c of cases) {
  const rec = { name: c.name, servername: c.servername, alpn_offered: c.ALPNProtocols ?? null };
  if (c.openssl) {
    rec.start_us = Date.now() * 1000;
    // Asynchronously: the server runs in this process.
    const r = await new Promise((resolve) => {
      const p = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${PORT}`, '-servername', c.servername,
        '-alpn', c.ALPNProtocols.join(','), '-CAfile', `${dir}/${c.ca}`, '-verify_return_error', ...c.openssl],
        { stdio: ['pipe', 'pipe', 'pipe'] });
      let text = '';
      p.stdout.on('data', (d) => (text += d));
      p.stderr.on('data', (d) => (text += d));
      p.stdin.end();
      const timer = setTimeout(() => p.kill(), 10000);
      p.on('close', (status) => {
        clearTimeout(timer);
        resolve({ status, text });
      });
    });
    rec.client = null; // s_client does not say its port: rows are matched by order
    rec.ok = r.status === 0 && !/verify error/.test(r.text);
    const m = /verify error:num=\d+:([^\n]*)/.exec(r.text);
    rec.error = m ? m[1].trim() : `exit ${r.status}`;
    rec.alert = /alert ([a-z ]+)/.exec(r.text)?.[1] ?? null;
    results.push(rec);
    await new Promise((res) => setTimeout(res, 100));
    continue;
  }
  await new Promise((resolve) => {
    const t0 = Date.now() * 1000;
    rec.start_us = t0;
    const s = tls.connect({
      host: '127.0.0.1',
      port: PORT,
      servername: c.servername,
      ALPNProtocols: c.ALPNProtocols,
      ca: read(c.ca),
      minVersion: c.minVersion,
      maxVersion: c.maxVersion,
      ciphers: c.ciphers,
    });
    s.on('connect', () => {
      rec.client = [s.localAddress, s.localPort];
    });
    s.on('secureConnect', () => {
      rec.secure_us = Date.now() * 1000;
      rec.ok = true;
      rec.version = s.getProtocol();
      rec.cipher = s.getCipher().standardName;
      rec.alpn = s.alpnProtocol || null;
      s.write('hello over tls\n');
      s.once('data', () => s.end());
    });
    s.on('error', (e) => {
      rec.ok = false;
      rec.error = e.code ?? String(e.message);
      rec.client ??= [s.localAddress, s.localPort];
      resolve();
    });
    s.on('close', () => resolve());
  });
  results.push(rec);
  await new Promise((r) => setTimeout(r, 100));
}
server.close();
writeFileSync(out, JSON.stringify({ server: ['127.0.0.1', PORT], handshakes: results }, null, 1));
