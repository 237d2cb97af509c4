#!/usr/bin/env python3
"""Turns DeepFlow's memcached parser results (.result beside its pcaps) into test/fixtures/deepflow-memcached.json:
rows as DeepFlow pairs them (a Request, then the next Response), with a digest of all rows and the first ones in full."""
import hashlib, json, re, sys
DIR = '/work/shared/fixtures/deepflow/agent/resources/test/flow_generator/memcached'
LINE = re.compile(r'^MemcachedInfo \{ msg_type: (\w+) request: (.*?) req_size: (\d+) result: (.*?) err_msg: (.*?) res_size: (\d+) rtt: (\d+) \}')
out = {}
for name in ('memcached', 'memcached-userdata'):
    rows, pending = [], []
    requests = responses = failed = 0
    for l in open(f'{DIR}/{name}.result'):
        m = LINE.match(l)
        if not m:
            failed += 'parse failed' in l
            continue
        kind, req, req_size, result, err, res_size, rtt = m.groups()
        if kind == 'Request':
            requests += 1
            pending.append([req, int(req_size)])  # pipelined requests are answered in order
        else:
            responses += 1
            rows.append((pending.pop(0) if pending else [None, None]) + [result, err or None, int(res_size)])
    rows += [p + [None, None, None] for p in pending]
    digest = hashlib.sha256('\n'.join(json.dumps(r, separators=(',', ':'), ensure_ascii=False) for r in rows).encode()).hexdigest()
    out[name] = {'requests': requests, 'responses': responses, 'parse_failed': failed, 'rows': len(rows),
                 'digest': digest, 'first': rows[:300]}
json.dump(out, open(sys.argv[1], 'w'), indent=0)
