// What every view of the workspace shares: which view is showing, the time window (set by brushing
// the time chart, cleared by Reset), the node grouping, and the filters the logs start from (the map
// hands the request log a pre-filter when the user asks for "requests of this edge").

import type { FilterClause, NodeGrouping, TimeWindow } from '../../../shared/views';

export type ViewId = 'captures' | 'map' | 'red' | 'network' | 'requests' | 'flows';

export const VIEWS: { id: ViewId; label: string }[] = [
  { id: 'captures', label: 'Captures' },
  { id: 'map', label: 'Service map' },
  { id: 'red', label: 'RED' },
  { id: 'network', label: 'Network' },
  { id: 'requests', label: 'Requests' },
  { id: 'flows', label: 'Flows' },
];

export interface WorkspaceState {
  view: ViewId;
  /** null = all time. */
  window: TimeWindow | null;
  grouping: NodeGrouping;
  requestFilter: FilterClause[];
  flowFilter: FilterClause[];
}

export type WorkspaceAction =
  | { type: 'view'; view: ViewId }
  | { type: 'window'; window: TimeWindow | null }
  | { type: 'grouping'; grouping: NodeGrouping }
  | { type: 'requestFilter'; filter: FilterClause[] }
  | { type: 'flowFilter'; filter: FilterClause[] }
  /** Opens a log with a filter already applied (map side panel, RED rows). */
  | { type: 'drill'; log: 'requests' | 'flows'; filter: FilterClause[] };

export const initialWorkspace: WorkspaceState = {
  view: 'captures',
  window: null,
  grouping: 'service',
  requestFilter: [],
  flowFilter: [],
};

export function workspaceReducer(state: WorkspaceState, action: WorkspaceAction): WorkspaceState {
  switch (action.type) {
    case 'view':
      return { ...state, view: action.view };
    case 'window': {
      const w = action.window;
      // An empty or inverted window means "all time".
      const valid = w && w.from !== undefined && w.to !== undefined && w.to > w.from ? w : null;
      return { ...state, window: valid };
    }
    case 'grouping':
      return { ...state, grouping: action.grouping };
    case 'requestFilter':
      return { ...state, requestFilter: action.filter };
    case 'flowFilter':
      return { ...state, flowFilter: action.filter };
    case 'drill':
      return action.log === 'requests'
        ? { ...state, view: 'requests', requestFilter: action.filter }
        : { ...state, view: 'flows', flowFilter: action.filter };
  }
}

/** The scope part of every view request. */
export function scopeOf(state: WorkspaceState): { window?: TimeWindow } {
  return state.window ? { window: state.window } : {};
}
