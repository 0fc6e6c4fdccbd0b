#!/usr/bin/env node
// The `cluster-ipam` command as npm installs it: the compiled CLI when it is built (a packed or installed package),
// else the TypeScript sources through tsx (a checkout after `npm ci`, so `npx cluster-ipam` works without a build).
import { existsSync } from 'node:fs';
import { URL } from 'node:url';

const compiled = new URL('../dist/cli/main.js', import.meta.url);
if (existsSync(compiled)) {
  await import(compiled.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(new URL('../src/cli/main.ts', import.meta.url).href);
}
