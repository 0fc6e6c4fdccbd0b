// Writes deploy/crds/<plural>.<group>.yaml for every kind in src/api, and removes generated files of kinds that
// no longer exist. `npm run gen:crds`; src/api/crds.test.ts fails when the committed files are stale.
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crdFileName, crdHeader, kinds, renderCRD } from '../src/api/index.ts';

const outDir = resolve(dirname(fileURLToPath(import.meta.url)), '../deploy/crds');

await mkdir(outDir, { recursive: true });
const wanted = new Map(kinds.map((k) => [crdFileName(k), renderCRD(k)]));
for (const file of await readdir(outDir)) {
  if (wanted.has(file) || !file.endsWith('.yaml')) continue;
  if ((await readFile(join(outDir, file), 'utf8')).startsWith(crdHeader)) {
    await rm(join(outDir, file));
    console.log(`removed ${file}`);
  }
}
for (const [file, text] of wanted) {
  const path = join(outDir, file);
  const old = await readFile(path, 'utf8').catch(() => undefined);
  if (old === text) continue;
  await writeFile(path, text);
  console.log(`wrote ${file}`);
}
