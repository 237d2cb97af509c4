// Row keys (camelCase, as the API returns them) ↔ filter/sort fields (snake_case columns, as
// views.ts FilterClause and SortSpec expect).

export function fieldOf(key: string): string {
  // l7Protocol → l7_protocol (a digit inside a word stays), xRequestId0 → x_request_id_0 (a trailing
  // index becomes its own part, as the requests table names it).
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([a-zA-Z])([0-9]+)$/, '$1_$2')
    .toLowerCase();
}
