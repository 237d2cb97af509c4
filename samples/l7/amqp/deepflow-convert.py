#!/usr/bin/env python3
"""DeepFlow's AMQP parser results (.result beside its pcaps) → test/fixtures/deepflow-amqp.json: one entry per
message DeepFlow parsed, in order, with the fields a row is made of."""
import json, re, sys
DIR = '/work/shared/fixtures/deepflow/agent/resources/test/flow_generator/amqp'
def g(l, pat, conv=str):
    m = re.search(pat, l)
    return conv(m.group(1)) if m else None
CODES = {'Success': 200, 'ContentTooLarge': 311, 'NoRoute': 312, 'NoConsumers': 313, 'ConnectionForced': 320, 'InvalidPath': 402,
         'AccessRefused': 403, 'NotFound': 404, 'ResourceLocked': 405, 'PreconditionFailed': 406, 'FrameError': 501, 'SyntaxError': 502,
         'CommandInvalid': 503, 'ChannelError': 504, 'UnexpectedFrame': 505, 'ResourceError': 506, 'NotAllowed': 530,
         'NotImplemented': 540, 'InternalError': 541}
out = {}
for name in ('amqp-error', 'amqp1', 'amqp3'):
    msgs = []
    for l in open(f'{DIR}/{name}.result'):
        if not l.startswith('AmqpInfo'):
            continue
        code = g(l, r'resp_code: Some\((\w+)\)')
        msgs.append({
            'msg_type': g(l, r'msg_type: (\w+)'), 'resp_status': g(l, r'resp_status: (\w+)'),
            'protocol_header': 'is_protcol_header: true' in l, 'frame_type': g(l, r'frame_type: (\w+)'),
            'channel': g(l, r'channel_id: (\d+)', int), 'class': g(l, r'class_id: (\w+)'), 'method': g(l, r'method_id: (\w+)'),
            'req_type': g(l, r'req_type: Some\("([^"]*)"\)'), 'vhost': g(l, r'vhost: Some\("([^"]*)"\)'),
            'exchange': g(l, r'exchange: Some\("([^"]*)"\)'), 'routing_key': g(l, r'routing_key: Some\("([^"]*)"\)'),
            'queue': g(l, r'queue: Some\("([^"]*)"\)'), 'endpoint': g(l, r'endpoint: Some\("([^"]*)"\)'),
            'resp_code': CODES.get(code, code), 'resp_text': g(l, r'resp_text: Some\("((?:[^"\\]|\\.)*)"\)'),
            'trace_id': g(l, r'trace_ids: PrioFields\(\[PrioField \{ prio: \d+, field: "([^"]*)"'),
            'span_id': g(l, r'span_id: Some\("([^"]*)"\)'),
            'req_len': g(l, r'req_len: Some\((\d+)\)', int), 'resp_len': g(l, r'resp_len: Some\((\d+)\)', int),
            'rtt': g(l, r'rtt: (\d+)', int), 'body_size': g(l, r'body_size: (\d+)', int), 'payload_size': g(l, r'payload_size: (\d+)', int)})
    out[name] = msgs
json.dump(out, open(sys.argv[1], 'w'), indent=0)
