// Turns a finished exchange into a `requests` row. The client is the side that sent the request (or
// received the lone response), whatever the flow table guessed: L7 knows better (SPEC.md "Flows").

import type { RequestRecord, RequestStatus } from '../../shared/records';
import type { Exchange } from './pairing';
import type { Dir } from './types';

/** What the record needs to know about the flow. */
export interface FlowContext {
  captureId: number;
  ifIndex: number;
  observationPoint: string;
  flowId: number;
  l7Protocol: string;
  /** Address and port of the sender of direction 0 / 1. */
  ip: [string, string];
  port: [number, number];
}

export function buildRecord(x: Exchange, override: RequestStatus | null, f: FlowContext, requestId: number): RequestRecord {
  const req = x.req;
  const resp = x.resp;
  const first = req ?? resp!;
  const clientDir: Dir = req !== null ? req.dir : ((resp!.dir ^ 1) as Dir);
  const serverDir: Dir = (clientDir ^ 1) as Dir;
  const status: RequestStatus =
    override ?? (resp !== null ? resp.responseStatus : req !== null && req.oneWay ? req.responseStatus : 'unknown');
  // A one-way message is its own answer (an AMQP Basic.Return carries its reply code).
  const answer = resp ?? (req !== null && req.oneWay ? req : null);
  let end = first.endTs;
  if (resp !== null && resp.endTs > end) end = resp.endTs;
  return {
    requestId,
    flowId: f.flowId,
    captureId: f.captureId,
    ifIndex: f.ifIndex,
    observationPoint: f.observationPoint,
    startTime: first.startTs,
    endTime: end,
    duration: req !== null && resp !== null ? Math.max(0, resp.startTs - req.startTs) : null,
    l7Protocol: req?.l7Protocol ?? resp?.l7Protocol ?? f.l7Protocol,
    version: req?.version ?? resp?.version ?? null,
    requestType: req?.requestType ?? resp?.requestType ?? null,
    requestDomain: req?.requestDomain ?? resp?.requestDomain ?? null,
    requestResource: req?.requestResource ?? resp?.requestResource ?? null,
    endpoint: req?.endpoint ?? resp?.endpoint ?? null,
    responseStatus: status,
    responseCode: answer?.responseCode ?? null,
    responseException: answer?.responseException ?? null,
    responseResult: answer?.responseResult ?? null,
    traceId: req?.traceId ?? resp?.traceId ?? null,
    spanId: req?.spanId ?? resp?.spanId ?? null,
    parentSpanId: req?.parentSpanId ?? resp?.parentSpanId ?? null,
    xRequestId0: req?.xRequestId ?? null,
    xRequestId1: resp?.xRequestId ?? null,
    reqTcpSeq: req?.tcpSeq ?? null,
    respTcpSeq: resp?.tcpSeq ?? null,
    requestLength: req?.length ?? null,
    responseLength: resp?.length ?? null,
    clientIp: f.ip[clientDir],
    serverIp: f.ip[serverDir],
    clientPort: f.port[clientDir],
    serverPort: f.port[serverDir],
    signalSource: 'packet',
  };
}
