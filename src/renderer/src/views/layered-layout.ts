// A layered layout for the service map (a much simplified Sugiyama, like Kiali's default dagre
// left-to-right): each node sits one column right of its deepest caller (longest path from the pure
// clients), so client → frontend → api → db reads left to right. Edges that skip columns get
// placeholder slots in the columns they cross, so no node is placed on their line; within a column
// nodes are ordered by the mean position of their predecessors to keep edges from crossing.
// Cycles (services calling each other back): each group of services that reach one another (a strongly
// connected component) is placed as one unit, after everything that calls into it and before
// everything it calls. A small group is spread left to right from the service its callers enter by,
// only the edge that closes the cycle drawn back; a large one (a dense mesh, where any left-to-right
// order is arbitrary and very wide) shares one column, wrapped like any tall column. A pure function
// of ids and edges: testable without a canvas.

export interface LayeredInput {
  nodes: string[];
  edges: { source: string; target: string }[];
}

export function layeredPositions(input: LayeredInput, spacing = { x: 230, y: 110 }): Map<string, { x: number; y: number }> {
  const { nodes, edges } = input;
  const depth = longestPathDepths(nodes, edges);
  // Compact depths to consecutive columns.
  const distinct = [...new Set(depth.values())].sort((a, b) => a - b);
  const column = new Map([...depth].map(([n, d]) => [n, distinct.indexOf(d)]));

  // Columns of real nodes plus placeholders ("\0" prefixed) for every column an edge skips over.
  const columns: string[][] = distinct.map(() => []);
  for (const n of nodes) columns[column.get(n)!].push(n);
  const preds = new Map<string, string[]>();
  const link = (from: string, to: string) => preds.set(to, [...(preds.get(to) ?? []), from]);
  const seen = new Set<string>();
  for (const e of edges) {
    const a = column.get(e.source);
    const b = column.get(e.target);
    if (a === undefined || b === undefined || b <= a) continue;
    const pair = `${e.source}\u0001${e.target}`;
    if (seen.has(pair)) continue; // parallel edges share one lane
    seen.add(pair);
    let prev = e.source;
    for (let c = a + 1; c < b; c++) {
      const dummy = `\0${pair}\u0001${c}`;
      columns[c].push(dummy);
      link(prev, dummy);
      prev = dummy;
    }
    link(prev, e.target);
  }

  // A column taller than the canvas is wide wraps into sub-columns (hundreds of client IPs in one
  // column would otherwise make a thin stripe of a graph).
  const maxRows = Math.max(8, Math.ceil(Math.sqrt(nodes.length) * 1.5));
  const slot = new Map<string, number>();
  const positions = new Map<string, { x: number; y: number }>();
  let left = 0;
  columns.forEach((members) => {
    const order = members
      .map((n, i) => {
        const known = (preds.get(n) ?? []).map((p) => slot.get(p)).filter((v): v is number => v !== undefined);
        return { n, key: known.length > 0 ? known.reduce((s, v) => s + v, 0) / known.length : i };
      })
      .sort((p, q) => p.key - q.key || (p.n < q.n ? -1 : 1));
    const subColumns = Math.ceil(order.length / maxRows);
    const rows = Math.ceil(order.length / subColumns);
    const subWidth = spacing.x * 0.6;
    order.forEach(({ n }, i) => {
      const sub = Math.floor(i / rows);
      const y = (i % rows) - (rows - 1) / 2;
      slot.set(n, y);
      if (!n.startsWith('\0')) positions.set(n, { x: left + sub * subWidth, y: y * spacing.y });
    });
    left += (subColumns - 1) * subWidth + spacing.x;
  });
  return positions;
}

/** Largest group of mutually calling services spread over columns of its own. */
const SPREAD_GROUP_MAX = 12;

/** Column of each node: longest path from a source over the groups of mutually reachable nodes. */
function longestPathDepths(nodes: string[], edges: LayeredInput['edges']): Map<string, number> {
  const index = new Map(nodes.map((n, i) => [n, i]));
  const out: number[][] = nodes.map(() => []);
  for (const e of edges) {
    const a = index.get(e.source);
    const b = index.get(e.target);
    if (a !== undefined && b !== undefined && a !== b) out[a].push(b);
  }
  const { group, groups } = stronglyConnected(out);
  // Within a small group: depth-first from the members called from outside the group, dropping the
  // edges that close a cycle; what remains is acyclic and gives each member its offset in the group.
  const inner = new Int32Array(nodes.length);
  const span = groups.map(() => 1);
  const calledFromOutside = new Uint8Array(nodes.length);
  for (let a = 0; a < out.length; a++) for (const b of out[a]) if (group[a] !== group[b]) calledFromOutside[b] = 1;
  groups.forEach((members, g) => {
    if (members.length === 1 || members.length > SPREAD_GROUP_MAX) return;
    const order = [...members.filter((m) => calledFromOutside[m]), ...members];
    const state = new Map<number, 1 | 2>();
    const kept = new Map<number, number[]>(members.map((m) => [m, []]));
    const finished: number[] = [];
    for (const root of order) {
      if (state.has(root)) continue;
      state.set(root, 1);
      const stack: [number, number][] = [[root, 0]];
      while (stack.length > 0) {
        const top = stack[stack.length - 1];
        const [n, i] = top;
        const next = out[n];
        if (i === next.length) {
          state.set(n, 2);
          finished.push(n);
          stack.pop();
          continue;
        }
        top[1] = i + 1;
        const m = next[i];
        if (group[m] !== g || state.get(m) === 1) continue; // leaves the group, or closes a cycle
        kept.get(n)!.push(m);
        if (!state.has(m)) {
          state.set(m, 1);
          stack.push([m, 0]);
        }
      }
    }
    // Reverse finishing order is a topological order of the kept edges.
    for (let k = finished.length - 1; k >= 0; k--) {
      const n = finished[k];
      for (const m of kept.get(n)!) if (inner[n] + 1 > inner[m]) inner[m] = inner[n] + 1;
    }
    span[g] = Math.max(...members.map((m) => inner[m])) + 1;
  });
  // Groups come out of stronglyConnected callees first: walk them backwards, callers first.
  const base = groups.map(() => 0);
  for (let g = groups.length - 1; g >= 0; g--) {
    for (const a of groups[g]) {
      for (const b of out[a]) {
        const h = group[b];
        if (h !== g && base[g] + span[g] > base[h]) base[h] = base[g] + span[g];
      }
    }
  }
  return new Map(nodes.map((n, i) => [n, base[group[i]] + inner[i]]));
}

/**
 * Tarjan's strongly connected components, iterative (a long call chain must not overflow the stack).
 * Groups are numbered in reverse topological order: a group's callees come before it.
 */
function stronglyConnected(out: number[][]): { group: Int32Array; groups: number[][] } {
  const n = out.length;
  const order = new Int32Array(n).fill(-1);
  const low = new Int32Array(n);
  const onStack = new Uint8Array(n);
  const group = new Int32Array(n).fill(-1);
  const groups: number[][] = [];
  const stack: number[] = [];
  let counter = 0;
  for (let root = 0; root < n; root++) {
    if (order[root] >= 0) continue;
    const work: [number, number][] = [[root, 0]];
    order[root] = low[root] = counter++;
    stack.push(root);
    onStack[root] = 1;
    while (work.length > 0) {
      const top = work[work.length - 1];
      const [v, i] = top;
      if (i < out[v].length) {
        top[1] = i + 1;
        const w = out[v][i];
        if (order[w] < 0) {
          order[w] = low[w] = counter++;
          stack.push(w);
          onStack[w] = 1;
          work.push([w, 0]);
        } else if (onStack[w] && order[w] < low[v]) low[v] = order[w];
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const u = work[work.length - 1][0];
        if (low[v] < low[u]) low[u] = low[v];
      }
      if (low[v] === order[v]) {
        const members: number[] = [];
        let w: number;
        do {
          w = stack.pop()!;
          onStack[w] = 0;
          group[w] = groups.length;
          members.push(w);
        } while (w !== v);
        groups.push(members);
      }
    }
  }
  return { group, groups };
}
