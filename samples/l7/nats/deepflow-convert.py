#!/usr/bin/env python3
"""DeepFlow's NATS parser results (.result beside its pcaps) → test/fixtures/deepflow-nats.json: one entry per
message DeepFlow parsed, in order: msg_type, operation, subject, version, server_name, payload size,
trace id, span id, error message, endpoint."""
import json, re, sys
DIR = '/work/shared/fixtures/deepflow/agent/resources/test/flow_generator/nats'
def field(l, name, pat=r'"((?:[^"\\]|\\.)*)"'):
    m = re.search(name + ': ' + pat, l)
    return m.group(1) if m else None
out = {}
for name in ('nats-err', 'nats-headers', 'nats-nrpc2', 'nats-nrpc3', 'nats-skywalking'):
    msgs = []
    for l in open(f'{DIR}/{name}.result'):
        if not l.startswith('NatsInfo'):
            continue
        op = re.search(r'message: (\w+)', l).group(1).upper()
        trace = re.search(r'trace_ids: PrioFields\(\[(?:PrioField \{ prio: \d+, field: "([^"]*)" \})?', l).group(1)
        span = re.search(r'span_id: Some\("([^"]*)"\)', l)
        span = span.group(1) if span else None
        size = re.search(r'payload_size: (\d+)', l)
        err = field(l, 'error_message')
        ep = re.search(r'endpoint: Some\("([^"]*)"\)', l)
        msgs.append({'msg_type': re.search(r'msg_type: (\w+)', l).group(1), 'op': op, 'subject': field(l, 'subject'),
                     'version': field(l, 'version'), 'server_name': field(l, 'server_name'),
                     'payload_size': int(size.group(1)) if size else None, 'trace_id': trace, 'span_id': span,
                     'error': err.strip("'") if err else None, 'endpoint': ep.group(1) if ep else None})
    out[name] = msgs
json.dump(out, open(sys.argv[1], 'w'), indent=1)
