// The one API the engine exposes to every UI (ARCHITECTURE.md "One API, four transports").
//
// `flowscopeApi` below is the single definition: each method names its request and response types
// and carries a runtime validator for the request; each event names its payload type. Transports are
// derived from it generically (Electron IPC: src/preload/bridge.ts and src/main/ipc-handlers.ts; HTTP +
// Server-Sent Events: src/engine/rpc/http-server.ts and src/renderer/src/http-transport.ts; gRPC later),
// so adding a method here is the only edit a new call needs.
//
// This file is types plus plain data: no Electron, no Node, no engine import, so every side can load it.

import type { CaptureRecord } from './records';
import type { CaptureSummary } from './summary';
import type {
  FlowRow,
  LogPage,
  LogRequest,
  NetworkRequest,
  NetworkRow,
  RedRequest,
  RedTable,
  RequestPath,
  RequestPathRequest,
  RequestRow,
  ServiceMap,
  ServiceMapRequest,
  TimeSeries,
  TimeSeriesRequest,
} from './views';

export type { CaptureSummary };

// ---------------------------------------------------------------------------------------------
// Request / response / event types

export interface AppInfo {
  name: string;
  version: string;
  platform: string;
  arch: string;
  /** Runtime versions (node, and electron/chrome when inside the desktop app). */
  versions: Record<string, string>;
  /** Which implementation answers the API, so the UI can say what to expect from it. */
  engine: string;
}

export interface OpenCaptureRequest {
  /**
   * Absolute paths of pcap / pcapng files, optionally gzip-compressed, and of Kubernetes metadata
   * (`kubectl get pods,services,endpoints,nodes -A -o json` output, or any `.json` file): those are
   * loaded as names for IPs (SPEC.md "Auto-tagging"), not imported as captures.
   */
  paths: string[];
}

/** A Kubernetes metadata file loaded into the workspace's tags. */
export interface MetadataSource {
  /** The file it was read from. */
  path: string;
  /** What it is kept under (the file's absolute path); loading it again replaces it; removeMetadata takes it. */
  source: string;
  /** Pods, services and nodes the file holds. */
  pods: number;
  services: number;
  nodes: number;
}

export interface OpenCaptureResponse {
  /** One per accepted capture, in order; `importIds[i]` is the import that fills `captureIds[i]`. */
  captureIds: number[];
  importIds: string[];
  /** Paths that were not opened, each with the reason (file, offset, what was wrong). */
  rejected: { path: string; reason: string }[];
  /** Kubernetes metadata files loaded (already in effect when this returns); absent when none was. */
  metadata?: MetadataSource[];
}

export interface RemoveMetadataRequest {
  /** A MetadataSource's `source`. */
  source: string;
}

export interface RemoveMetadataResponse {
  /** False when no metadata was loaded under that source. */
  removed: boolean;
}

/** The workspace's names changed (metadata loaded or removed): views show them on their next query. */
export interface MetadataChanged {
  change: 'loaded' | 'removed';
  /** The source loaded or removed, with what it holds. */
  metadata: MetadataSource;
}

export interface CaptureSummaryRequest {
  /** Captures to summarise together; all captures when omitted. */
  captureIds?: number[];
}

export interface QueryRequest {
  /** One read-only SQL statement against the store (the engine runs it on a read-only connection). */
  sql: string;
}

export interface QueryResult {
  columns: { name: string; type: string }[];
  /** Row-major values; BIGINTs arrive as numbers when safe, else as decimal strings; BLOBs as hex text. */
  rows: unknown[][];
  /** True when the result had more rows than the engine returns (the rest were not sent). */
  truncated: boolean;
}

export interface CancelImportRequest {
  importId: string;
}

export interface CancelImportResponse {
  /** False when the import had already finished or never existed. */
  cancelled: boolean;
}

export type ImportPhase = 'reading' | 'done' | 'failed' | 'cancelled';

export interface ImportProgress {
  importId: string;
  captureId: number;
  path: string;
  /** 'reading' from the moment the import is queued (imports run one at a time; bytesRead stays 0 until its turn). */
  phase: ImportPhase;
  /** Progress is bytes read / file size (compressed bytes for gzip input). */
  bytesRead: number;
  totalBytes: number;
  /** Packets and flows so far (the capture's totals once done). */
  packets: number;
  flows: number;
  /** Set when phase is 'failed': file, offset and reason. */
  error?: string;
}

// ---------------------------------------------------------------------------------------------
// The definition

/** A method: its request/response types ride on a phantom field; `validate` checks untrusted input. */
export interface MethodSpec<Req, Res> {
  readonly kind: 'method';
  readonly validate: (request: unknown) => string | null;
  readonly __types?: (request: Req) => Res;
}

export interface EventSpec<Payload> {
  readonly kind: 'event';
  readonly __payload?: (payload: Payload) => void;
}

function method<Req, Res>(validate: (request: unknown) => string | null): MethodSpec<Req, Res> {
  return { kind: 'method', validate };
}

function event<Payload>(): EventSpec<Payload> {
  return { kind: 'event' };
}

const noRequest = (request: unknown): string | null =>
  request === undefined || request === null ? null : 'this method takes no request';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isIdList(value: unknown): boolean {
  return Array.isArray(value) && value.every((id) => Number.isSafeInteger(id) && (id as number) >= 0);
}

// Shapes of the view requests (shared/views.ts). Values are checked again by the engine (field names
// against allow-lists, ranges); these catch wrong types at the door with a message naming the field.

const isInt = (v: unknown): boolean => Number.isSafeInteger(v);
const optional = (v: unknown, check: (v: unknown) => boolean): boolean => v === undefined || check(v);
const oneOf = (values: readonly string[]) => (v: unknown): boolean => typeof v === 'string' && values.includes(v);
const GROUPINGS = ['service', 'pod', 'ip'] as const;
const FILTER_OPS = ['=', '!=', '<', '<=', '>', '>=', 'contains', 'in'] as const;

function isScalar(v: unknown): boolean {
  return typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v));
}

function isFilter(v: unknown): boolean {
  return (
    Array.isArray(v) &&
    v.every(
      (c) =>
        isRecord(c) && typeof c.field === 'string' && oneOf(FILTER_OPS)(c.op) &&
        (isScalar(c.value) || (Array.isArray(c.value) && c.value.every(isScalar))),
    )
  );
}

function isSort(v: unknown): boolean {
  return isRecord(v) && typeof v.field === 'string' && optional(v.desc, (d) => typeof d === 'boolean');
}

/** The ViewScope part of a request; null when fine, else what is wrong. */
function scopeProblem(r: Record<string, unknown>): string | null {
  if (!optional(r.captureIds, isIdList)) return 'captureIds must be a list of capture ids';
  if (r.window !== undefined) {
    const w = r.window;
    if (!isRecord(w) || !optional(w.from, isInt) || !optional(w.to, isInt)) return 'window must be {from?, to?} in whole µs';
  }
  return null;
}

/** A validator for a view request: the scope, then each named field's check. */
function viewRequest(shape: string, fields: Record<string, (v: unknown) => boolean>, required: string[] = []) {
  return (r: unknown): string | null => {
    if (!isRecord(r)) return `expected ${shape}`;
    const scope = scopeProblem(r);
    if (scope !== null) return scope;
    for (const name of required) if (r[name] === undefined) return `${name} is required (${shape})`;
    for (const [name, check] of Object.entries(fields)) {
      if (!optional(r[name], check)) return `bad ${name} (${shape})`;
    }
    return null;
  };
}

const logFields = {
  filter: isFilter,
  sort: isSort,
  offset: (v: unknown) => isInt(v) && (v as number) >= 0,
  limit: (v: unknown) => isInt(v) && (v as number) >= 0 && (v as number) <= 1000,
  grouping: oneOf(GROUPINGS),
  allHops: (v: unknown) => typeof v === 'boolean',
};

export const flowscopeApi = {
  methods: {
    appInfo: method<void, AppInfo>(noRequest),
    openCapture: method<OpenCaptureRequest, OpenCaptureResponse>((r) =>
      isRecord(r) && Array.isArray(r.paths) && r.paths.length > 0 &&
      r.paths.every((p) => typeof p === 'string' && p.length > 0)
        ? null
        : 'expected {paths: string[]} with at least one non-empty path'),
    listCaptures: method<void, CaptureRecord[]>(noRequest),
    captureSummary: method<CaptureSummaryRequest, CaptureSummary>((r) =>
      isRecord(r) && (r.captureIds === undefined || isIdList(r.captureIds))
        ? null
        : 'expected {captureIds?: number[]}'),
    query: method<QueryRequest, QueryResult>((r) =>
      isRecord(r) && typeof r.sql === 'string' && r.sql.trim().length > 0 ? null : 'expected {sql: string}'),
    cancelImport: method<CancelImportRequest, CancelImportResponse>((r) =>
      isRecord(r) && typeof r.importId === 'string' ? null : 'expected {importId: string}'),
    listMetadata: method<void, MetadataSource[]>(noRequest),
    removeMetadata: method<RemoveMetadataRequest, RemoveMetadataResponse>((r) =>
      isRecord(r) && typeof r.source === 'string' && r.source.length > 0 ? null : 'expected {source: string}'),
    serviceMap: method<ServiceMapRequest, ServiceMap>(
      viewRequest('{captureIds?, window?, grouping?}', { grouping: oneOf(GROUPINGS) }),
    ),
    red: method<RedRequest, RedTable>(
      viewRequest(
        "{groupBy: 'service'|'endpoint'|'edge', captureIds?, window?, grouping?, filter?, sort?, limit?, sparkline?}",
        {
          groupBy: oneOf(['service', 'endpoint', 'edge']),
          grouping: oneOf(GROUPINGS),
          filter: isFilter,
          sort: isSort,
          limit: (v) => isInt(v) && (v as number) >= 0,
          sparkline: (v) => isInt(v) && (v as number) >= 0 && (v as number) <= 1000,
        },
        ['groupBy'],
      ),
    ),
    network: method<NetworkRequest, NetworkRow[]>(
      viewRequest("{groupBy: 'service'|'edge', captureIds?, window?, grouping?, filter?, sort?, limit?}", {
        groupBy: oneOf(['service', 'edge']),
        grouping: oneOf(GROUPINGS),
        filter: isFilter,
        sort: isSort,
        limit: (v) => isInt(v) && (v as number) >= 0,
      }, ['groupBy']),
    ),
    timeSeries: method<TimeSeriesRequest, TimeSeries>(
      viewRequest('{captureIds?, window?, stepUs?, filter?, grouping?}', {
        stepUs: (v) => isInt(v) && (v as number) > 0,
        filter: isFilter,
        grouping: oneOf(GROUPINGS),
      }),
    ),
    requestLog: method<LogRequest, LogPage<RequestRow>>(
      viewRequest('{captureIds?, window?, filter?, sort?, offset?, limit? (≤ 1000), grouping?, allHops?}', logFields),
    ),
    flowLog: method<LogRequest, LogPage<FlowRow>>(
      viewRequest('{captureIds?, window?, filter?, sort?, offset?, limit? (≤ 1000), grouping?, allHops?}', logFields),
    ),
    requestPath: method<RequestPathRequest, RequestPath>(
      viewRequest('{requestId, captureIds?}', { requestId: (v) => isInt(v) && (v as number) >= 0 }, ['requestId']),
    ),
  },
  events: {
    importProgress: event<ImportProgress>(),
    metadataChanged: event<MetadataChanged>(),
  },
} as const;

// ---------------------------------------------------------------------------------------------
// Derived types and lists

type Methods = typeof flowscopeApi.methods;
type Events = typeof flowscopeApi.events;

export type MethodName = keyof Methods;
export type EventName = keyof Events;
export type RequestOf<K extends MethodName> = Methods[K] extends MethodSpec<infer Req, unknown> ? Req : never;
export type ResponseOf<K extends MethodName> = Methods[K] extends MethodSpec<never, infer Res> ? Res : never;
export type PayloadOf<E extends EventName> = Events[E] extends EventSpec<infer P> ? P : never;

export const API_METHOD_NAMES = Object.keys(flowscopeApi.methods) as MethodName[];
export const API_EVENT_NAMES = Object.keys(flowscopeApi.events) as EventName[];

/** What an implementation (the engine, or anything standing in for it) provides. */
export type FlowscopeService = { [K in MethodName]: (request: RequestOf<K>) => Promise<ResponseOf<K>> };

/** How an implementation publishes events; each transport forwards them to its clients. */
export type EmitEvent = <E extends EventName>(name: E, payload: PayloadOf<E>) => void;

/** An event as it travels: name plus payload, correlated by the type map. */
export type ApiEvent = { [E in EventName]: { name: E; payload: PayloadOf<E> } }[EventName];

type ClientMethod<K extends MethodName> = [RequestOf<K>] extends [void]
  ? () => Promise<ResponseOf<K>>
  : (request: RequestOf<K>) => Promise<ResponseOf<K>>;

type Subscribe = <E extends EventName>(name: E, listener: (payload: PayloadOf<E>) => void) => () => void;

/** What a UI programs against, whatever the transport. Failed calls reject with ApiError. */
export type FlowscopeClient = { [K in MethodName]: ClientMethod<K> } & {
  /** Subscribes to an event; returns the unsubscribe function. */
  on: Subscribe;
};

/**
 * What a transport hands the UI: the same methods, resolving to WireResult envelopes. Envelopes
 * survive every hop intact (Electron's contextBridge keeps only the message of a thrown Error), and
 * `createClient` turns them back into ApiErrors on the UI's side.
 */
export type FlowscopeWire = {
  [K in MethodName]: (request?: RequestOf<K>) => Promise<WireResult<ResponseOf<K>>>;
} & { on: Subscribe };

/**
 * Local capabilities of the desktop bridge that cannot travel over a wire. Optional, so the same UI
 * runs in a plain browser (HTTP Toolkit's `DesktopApi` does the same).
 */
export interface DesktopCapabilities {
  /** The file-system path of a dropped File (Electron's webUtils.getPathForFile); '' if it has none. */
  pathForFile?: (file: File) => string;
}

/** `window.flowscope`, as the desktop preload exposes it. */
export type FlowscopeBridge = FlowscopeWire & DesktopCapabilities;

/** The typed client over any transport's wire methods; derived from the method list. */
export function createClient(wire: FlowscopeWire): FlowscopeClient {
  const client: Record<string, unknown> = {};
  for (const name of API_METHOD_NAMES) {
    const call = wire[name] as (request?: unknown) => Promise<WireResult<unknown>>;
    client[name] = async (request?: unknown) => fromWireResult(await call(request));
  }
  client.on = wire.on;
  return client as FlowscopeClient;
}

// ---------------------------------------------------------------------------------------------
// Wire conventions shared by transports

export type ApiErrorCode = 'bad_request' | 'forbidden' | 'not_found' | 'unavailable' | 'cancelled' | 'internal';

/** An error every transport carries intact: a stable code plus a message meant for people. */
export class ApiError extends Error {
  constructor(readonly code: ApiErrorCode, message: string) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface WireError {
  code: ApiErrorCode;
  message: string;
}

/** Results travel in an envelope so errors keep their code and message (Electron would prefix them). */
export type WireResult<T> = { ok: true; value: T } | { ok: false; error: WireError };

export function toWireError(err: unknown): WireError {
  if (err instanceof ApiError) return { code: err.code, message: err.message };
  if (err instanceof Error) return { code: 'internal', message: err.message };
  return { code: 'internal', message: String(err) };
}

export function fromWireResult<T>(result: WireResult<T>): T {
  if (result.ok) return result.value;
  throw new ApiError(result.error.code, result.error.message);
}

export const methodChannel = (name: MethodName): string => `flowscope:call:${name}`;
export const eventChannel = (name: EventName): string => `flowscope:event:${name}`;

export function isMethodName(name: unknown): name is MethodName {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(flowscopeApi.methods, name);
}

export function isEventName(name: unknown): name is EventName {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(flowscopeApi.events, name);
}

/** Validates an untrusted request against the definition; throws ApiError('bad_request'). */
export function checkRequest(name: MethodName, request: unknown): void {
  const problem = flowscopeApi.methods[name].validate(request);
  if (problem !== null) throw new ApiError('bad_request', `${name}: ${problem}`);
}
