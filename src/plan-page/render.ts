// The address-plan page as one server-rendered HTML document with inline CSS: no script, no framework. Every text
// that comes from the API (names, labels, messages) goes through `esc`.
import {
  describeHolder,
  stateTitles,
  type DomainPlan,
  type Holder,
  type PoolPlan,
  type Run,
  type State,
} from './model.ts';
import { drain, every, prettyJSON, type Steps } from './steps.ts';

const entities: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => entities[c]!);
}

const colours: Record<State, string> = {
  conflict: '#d7263d',
  used: '#2f6fdb',
  endpoint: '#8e44ad',
  gateway: '#f2a93b',
  reserved: '#7a7a7a',
  excluded: '#c9c9c9',
  shared: '#b8e0c2',
  free: '#e9f7ec',
  outside: '#ffffff',
};

const css = `
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}
h1{font-size:1.4em;margin:0 0 .3em}h2{font-size:1.15em;margin:1.5em 0 .5em;border-bottom:1px solid #ccc}
.pool{background:#fff;border:1px solid #ddd;border-radius:6px;padding:1em;margin:0 0 1em}
.pool h3{margin:0 0 .3em;font-size:1.05em}.meta{color:#555;margin:0 0 .6em}
.grid{display:grid;grid-template-columns:repeat(16,2.6em);gap:2px;margin:.5em 0}
.cell{height:2.1em;font-size:11px;display:flex;align-items:center;justify-content:center;border:1px solid #ccc;
border-radius:3px;overflow:hidden}
${(Object.keys(colours) as State[]).map((s) => `.s-${s}{background:${colours[s]}}`).join('\n')}
.s-used,.s-endpoint,.s-conflict{color:#fff;font-weight:600}.s-outside{border-style:dashed;color:#aaa}
.cell.s-conflict{outline:2px solid #7a0010}
table{border-collapse:collapse;margin:.4em 0}td,th{border:1px solid #ddd;padding:2px 8px;text-align:left;font-size:13px}
th{background:#f0f0f0}tr.s-conflict td{background:#fde2e5;color:#7a0010;font-weight:600}
.legend span{display:inline-block;margin-right:1em}.legend i{display:inline-block;width:1em;height:1em;
vertical-align:middle;margin-right:.3em;border:1px solid #aaa}
.conflicts{background:#fde2e5;border:1px solid #d7263d;border-radius:4px;padding:.4em 1em;color:#7a0010}
.warnings{background:#fff4dc;border:1px solid #f2a93b;border-radius:4px;padding:.4em 1em}
.errors{background:#fde2e5;border:1px solid #d7263d;border-radius:4px;padding:.4em 1em}
details summary{cursor:pointer;color:#555}
`;

/** Holder lines shown in a run of many holders before "and N more". */
const runHolderLimit = 8;

function legend(): string {
  const items = (Object.keys(stateTitles) as State[]).map(
    (s) => `<span><i class="s-${s}"></i>${esc(stateTitles[s])}</span>`,
  );
  return `<p class="legend">${items.join('')}</p>`;
}

function cellLabel(address: string): string {
  // The last octet (IPv4) or group (IPv6): the rest is the pool's subnet.
  return address.includes(':') ? (address.split(':').pop() ?? address) : (address.split('.').pop() ?? address);
}

function grid(pool: PoolPlan): string {
  if (!pool.cells) return '';
  const cells = pool.cells.map(
    (c) =>
      `<div class="cell s-${c.state}" data-address="${esc(c.address)}" data-state="${c.state}" title="${esc(c.title)}">` +
      `${esc(cellLabel(c.address))}</div>`,
  );
  return `<div class="grid" role="grid" aria-label="addresses of ${esc(pool.name)}">${cells.join('')}</div>`;
}

function holderText(holders: Holder[]): string {
  const shown = holders.slice(0, runHolderLimit).map((h) => esc(describeHolder(h)));
  if (holders.length > runHolderLimit) shown.push(`and ${holders.length - runHolderLimit} more`);
  return shown.join('<br>');
}

function* runsTable(runs: Run[]): Steps<string> {
  const tick = every();
  const rows: string[] = [];
  for (const r of runs) {
    rows.push(
      `<tr class="s-${r.state}" data-state="${r.state}"><td>${esc(r.from)}</td><td>${esc(r.to)}</td>` +
        `<td>${esc(r.count)}</td><td><i class="s-${r.state}" style="display:inline-block;width:.8em;height:.8em"></i> ` +
        `${esc(stateTitles[r.state])}</td><td>${holderText(r.holders)}</td></tr>`,
    );
    if (tick()) yield;
  }
  return (
    '<table class="runs"><thead><tr><th>from</th><th>to</th><th>addresses</th><th>state</th><th>holders</th></tr>' +
    `</thead><tbody>${rows.join('')}</tbody></table>`
  );
}

function* holdersTable(pool: PoolPlan): Steps<string> {
  const tick = every();
  if (pool.holders.length === 0) return '<p class="meta">No address is held.</p>';
  const conflicted = new Set(pool.conflicts.map((c) => c.address));
  const rows: string[] = [];
  for (const h of pool.holders) {
    rows.push(
      `<tr class="holder${conflicted.has(h.address) ? ' s-conflict' : ''}" data-address="${esc(h.address)}">` +
        `<td>${esc(h.address)}</td><td class="machine">${esc(h.machine ?? '')}</td><td>${esc(h.cluster ?? '')}</td>` +
        `<td>${esc(h.kind)}</td><td>${esc(`${h.namespace ?? ''}/${h.name}`)}</td><td>${esc(h.pool ?? '')}</td>` +
        `<td>${esc(h.problem ?? (h.released ? 'released' : ''))}</td></tr>`,
    );
    if (tick()) yield;
  }
  return (
    '<table class="holders"><thead><tr><th>address</th><th>machine</th><th>cluster</th><th>kind</th><th>object</th>' +
    `<th>pool</th><th>problem</th></tr></thead><tbody>${rows.join('')}</tbody></table>`
  );
}

function list(cls: string, title: string, items: readonly string[]): string {
  if (items.length === 0) return '';
  return `<div class="${cls}"><strong>${esc(title)}</strong><ul>${items.map((i) => `<li>${esc(i)}</li>`).join('')}</ul></div>`;
}

function* poolSection(pool: PoolPlan): Steps<string> {
  const tick = every();
  const c = pool.counts;
  const meta = [
    esc(pool.kind),
    pool.subnet ? `subnet ${esc(pool.subnet)}` : '',
    pool.gateway ? `gateway ${esc(pool.gateway)}` : '',
    c
      ? `${esc(c.used)} used, ${esc(c.free === c.usable ? c.usableHuman : c.free)} free of ${esc(c.usableHuman)} usable`
      : '',
  ].filter(Boolean);
  const conflicts: string[] = [];
  for (const x of pool.conflicts) {
    conflicts.push(
      `${x.address}: ${x.message}${x.holders.length ? ` — ${x.holders.map(describeHolder).join('; ')}` : ''}`,
    );
    if (tick()) yield;
  }
  const runs = pool.runs.length
    ? `<details${pool.cells ? '' : ' open'}><summary>Ranges</summary>${yield* runsTable(pool.runs)}</details>`
    : '';
  return (
    `<article class="pool" id="${esc(pool.key)}" data-pool="${esc(pool.key)}">` +
    `<h3>${esc(pool.namespace ? `${pool.namespace}/${pool.name}` : pool.name)}</h3>` +
    `<p class="meta">${meta.join(' · ')}</p>` +
    list('errors', 'Invalid pool', pool.errors) +
    list('conflicts', `${pool.conflicts.length} conflict${pool.conflicts.length === 1 ? '' : 's'}`, conflicts) +
    list('warnings', 'Warnings', pool.warnings) +
    grid(pool) +
    runs +
    (yield* holdersTable(pool)) +
    '</article>'
  );
}

export function renderPage(domains: readonly DomainPlan[], generatedAt: string): string {
  return drain(renderPageSteps(domains, generatedAt));
}

export function* renderPageSteps(domains: readonly DomainPlan[], generatedAt: string): Steps<string> {
  const sections: string[] = [];
  for (const d of domains) {
    const pools: string[] = [];
    for (const pool of d.pools) pools.push(yield* poolSection(pool));
    sections.push(
      `<section class="domain" data-domain="${esc(d.domain)}"><h2>Address domain ${esc(d.domain)}</h2>` +
        `${pools.join('')}</section>`,
    );
  }
  const total = domains.reduce((n, d) => n + d.pools.reduce((m, p) => m + p.conflicts.length, 0), 0);
  return (
    '<!doctype html><html lang="en"><head><meta charset="utf-8">' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">' +
    `<title>cluster-ipam address plan</title><style>${css}</style></head><body>` +
    `<h1>Address plan</h1><p class="meta">In-cluster pools as this manager sees them, ${esc(generatedAt)}. ` +
    `${total ? `<strong style="color:#7a0010">${total} conflict${total === 1 ? '' : 's'}</strong>` : 'No conflicts.'} ` +
    '<a href="plan.json">JSON</a></p>' +
    legend() +
    (sections.length ? sections.join('') : '<p>No in-cluster pools.</p>') +
    '</body></html>'
  );
}

/** The same data as the page; bigints are already strings in the model. */
export function renderJSON(domains: readonly DomainPlan[], generatedAt: string): string {
  return drain(renderJSONSteps(domains, generatedAt));
}

export function renderJSONSteps(domains: readonly DomainPlan[], generatedAt: string): Steps<string> {
  return prettyJSON({ generatedAt, domains });
}
