// A layered layout for the service map (a much simplified Sugiyama, like Kiali's default dagre
// left-to-right): each node sits one column right of its deepest caller (longest path from the pure
// clients), so client → frontend → api → db reads left to right. Edges that skip columns get
// placeholder slots in the columns they cross, so no node is placed on their line; within a column
// nodes are ordered by the mean position of their predecessors to keep edges from crossing. Cycles
// (services calling each other back) are broken first, as Sugiyama does: a depth-first walk from the
// pure clients marks the edges that close a cycle, and layering ignores them, so a cycle reads left to
// right with one edge drawn back. A pure function of ids and edges: testable without a canvas.

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

/** Column of each node: longest path from a source, over the edges left once cycles are broken. */
function longestPathDepths(nodes: string[], edges: LayeredInput['edges']): Map<string, number> {
  const out = new Map<string, string[]>(nodes.map((n) => [n, []]));
  const hasIn = new Set<string>();
  for (const e of edges) {
    if (e.source === e.target || !out.has(e.source) || !out.has(e.target)) continue;
    out.get(e.source)!.push(e.target);
    hasIn.add(e.target);
  }
  // Depth-first from the pure clients, then from whatever a cycle left unreached. An edge into a node
  // still on the walk's path closes a cycle: it is dropped. What remains is acyclic, and the walk's
  // finishing order reversed is a topological order of it.
  const state = new Map<string, 1 | 2>(); // 1: on the path, 2: done
  const kept = new Map<string, string[]>(nodes.map((n) => [n, []]));
  const finished: string[] = [];
  const roots = [...nodes.filter((n) => !hasIn.has(n)), ...nodes];
  for (const root of roots) {
    if (state.has(root)) continue;
    state.set(root, 1);
    const stack: [string, number][] = [[root, 0]];
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      const [n, i] = top;
      const next = out.get(n)!;
      if (i === next.length) {
        state.set(n, 2);
        finished.push(n);
        stack.pop();
        continue;
      }
      top[1] = i + 1;
      const m = next[i];
      const st = state.get(m);
      if (st === 1) continue; // back edge: closes a cycle
      kept.get(n)!.push(m);
      if (st === undefined) {
        state.set(m, 1);
        stack.push([m, 0]);
      }
    }
  }
  const depth = new Map(nodes.map((n) => [n, 0]));
  for (let k = finished.length - 1; k >= 0; k--) {
    const n = finished[k];
    const d = depth.get(n)! + 1;
    for (const m of kept.get(n)!) if (d > depth.get(m)!) depth.set(m, d);
  }
  return depth;
}
