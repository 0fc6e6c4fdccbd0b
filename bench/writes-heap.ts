// What a write through the kube client leaves behind on the manager's heap: writes fenced by a long-lived write gate
// and carrying a long-lived caller signal (a reconcile's), as the manager sends them, against a loopback server that
// answers at once. Prints the live heap retained per write after GC; needs --expose-gc:
//
//   node --expose-gc --import tsx bench/writes-heap.ts [--writes N]
import { setMaxListeners } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { ConfigMaps, KubeClient } from '../src/kube/index.ts';

const { values } = parseArgs({ options: { writes: { type: 'string', default: '40000' } } });
const writes = Number(values.writes);
const { gc } = globalThis as { gc?: () => void };
if (!gc) throw new Error('run with node --expose-gc');
const collect = gc;

const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"metadata":{"name":"x"}}'));
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const agent = new http.Agent({ keepAlive: true });
const access = {
  server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
  namespace: 'bench',
  connection: () => Promise.resolve({ agent, headers: {} }),
  invalidate: () => undefined,
  close: () => agent.destroy(),
};
const gate = new AbortController();
const caller = new AbortController();
setMaxListeners(0, gate.signal, caller.signal); // as the manager does: 32 writes listen at once
const configMaps = new KubeClient(access, {}).withWriteGate(() => gate.signal).resource(ConfigMaps);

async function write(n: number): Promise<void> {
  for (let i = 0; i < n; i += 32) {
    await Promise.all(
      Array.from({ length: 32 }, () =>
        configMaps.patch({ namespace: 'bench', name: 'x' }, { data: {} }, { signal: caller.signal }),
      ),
    );
  }
}
async function settledHeap(): Promise<number> {
  for (let i = 0; i < 4; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    collect();
  }
  return process.memoryUsage().heapUsed;
}

await write(1000); // warm-up: connections, code, caches
const before = await settledHeap();
await write(writes);
const retained = (await settledHeap()) - before;
console.log(`${writes} writes: ${Math.round(retained / writes)} B of heap retained per write`);
access.close();
server.close();
