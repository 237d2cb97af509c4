// Row keys (camelCase, as the API returns them) ↔ filter/sort fields (snake_case columns, as
// views.ts FilterClause and SortSpec expect).

export function fieldOf(key: string): string {
  return key
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .replace(/([a-zA-Z])([0-9])/g, '$1_$2')
    .toLowerCase();
}
