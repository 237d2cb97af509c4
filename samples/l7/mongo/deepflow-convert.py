#!/usr/bin/env python3
"""DeepFlow's MongoDB parser results (.result beside its pcaps) → test/fixtures/deepflow-mongo.json: one entry per
message, in order: msg_type, request_id, response_id, opcode name, the command (first key of the request
document), response code, exception, status, rtt, captured bytes."""
import json, re, sys
DIR = '/work/shared/fixtures/deepflow/agent/resources/test/flow_generator/mongo'
out = {}
for name in ('mongo', 'mongo-msg'):
    msgs = []
    for l in open(f'{DIR}/{name}.result'):
        if not l.startswith('MongoDBInfo'):
            continue
        g = lambda p: (re.search(p, l) or [None, None])[1]
        req = g(r'request: "((?:[^"\\]|\\.)*)"')
        cmd = re.match(r'\{ \\"([^\\]+)\\"', req) if req else None
        msgs.append({'msg_type': g(r'msg_type: (\w+)'), 'request_id': int(g(r'request_id: (\d+)')), 'response_id': int(g(r'response_id: (\d+)')),
                     'op': g(r'op_code_name: "(\w+)"'), 'command': cmd.group(1) if cmd else None,
                     'response_code': int(g(r'response_code: (-?\d+)')), 'exception': g(r'exception: "((?:[^"\\]|\\.)*)"'),
                     'status': g(r'status: (\w+)'), 'rtt': int(g(r'rrt: (\d+)')),
                     'captured_request_byte': int(g(r'captured_request_byte: (\d+)')), 'captured_response_byte': int(g(r'captured_response_byte: (\d+)'))})
    out[name] = msgs
json.dump(out, open(sys.argv[1], 'w'), indent=0)
