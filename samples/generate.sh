#!/usr/bin/env bash
# Builds a two-node, Kubernetes-like cluster out of network namespaces (pods on a cni0 bridge per node,
# a VXLAN overlay between the nodes, kube-proxy style DNAT for ClusterIPs), runs real servers in the pods
# (nginx, redis-server, postgres, dnsmasq), drives a fixed workload from python clients, captures every
# node's interfaces, and writes the ground truth from the clients' own records.
#
#   sudo bash samples/generate.sh          # writes samples/k8s-*.pcap* and samples/k8s.truth.json
#
# Env: FS_SAMPLES_OUT=DIR writes the outputs elsewhere; FS_KEEP_WORK=1 keeps the temp dir (logs, configs).
# All traffic stays inside the fs-* namespaces this script creates; they are removed on exit.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LIB=$HERE/lib
OUT=${FS_SAMPLES_OUT:-$HERE}
PREFIX=fs-
PIDS=()
WORK=""
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the source tree

log() { printf '[generate %(%T)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" = 0 ] || { echo "generate.sh: needs root: sudo bash samples/generate.sh" >&2; exit 1; }

# ------------------------------------------------------------------------------------------- packages
ensure_packages() {
  # command -> Debian package that provides it
  local -A need=([ip]=iproute2 [bridge]=iproute2 [nft]=nftables [ethtool]=ethtool [tcpdump]=tcpdump
    [dumpcap]=tshark [tshark]=tshark [mergecap]=tshark [nginx]=nginx-light [redis-server]=redis-server
    [dnsmasq]=dnsmasq-base [python3]=python3 [setpriv]=util-linux [ss]=iproute2 [pg_config]=postgresql)
  local missing=() cmd
  for cmd in "${!need[@]}"; do
    if [ "$cmd" = pg_config ]; then
      compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
    elif ! command -v "$cmd" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$cmd" ]; then
      missing+=("${need[$cmd]}")
    fi
  done
  if [ ${#missing[@]} -gt 0 ]; then
    mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# ------------------------------------------------------------------------------------------- cleanup
kill_pids() { # kill_pids PID... : TERM, wait up to 5 s, then KILL what is left
  local pid deadline=$((SECONDS + 5))
  for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "$@"; do
    while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
}

remove_namespaces() { # every namespace with our prefix, with whatever still runs inside it
  local ns pids
  for ns in $(ip netns list | awk '{print $1}' | grep "^${PREFIX}" || true); do
    mapfile -t pids < <(ip netns pids "$ns" 2>/dev/null || true)
    [ ${#pids[@]} -gt 0 ] && kill_pids "${pids[@]}"
    ip netns del "$ns" 2>/dev/null || true
  done
}

cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  [ ${#PIDS[@]} -gt 0 ] && kill_pids "${PIDS[@]}"
  remove_namespaces
  if [ -n "$WORK" ] && [ -d "$WORK" ]; then
    if [ "${FS_KEEP_WORK:-0}" = 1 ] || [ $rc -ne 0 ]; then log "work dir kept: $WORK"; else rm -rf "$WORK"; fi
  fi
  [ $rc -eq 0 ] || log "failed (exit $rc)"
  exit $rc
}

# ------------------------------------------------------------------------------------------- waits
wait_for() { # wait_for SECONDS DESCRIPTION COMMAND... : poll until COMMAND succeeds
  local limit=$1 what=$2; shift 2
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || die "timed out after ${limit}s waiting for $what"
    sleep 0.1
  done
}
listening() { # listening NETNS tcp|udp PORT
  local flag=-Hltn; [ "$2" = udp ] && flag=-Hlun
  [ -n "$(ip netns exec "$1" ss $flag "sport = :$3")" ]
}
alive() { kill -0 "$1" 2>/dev/null; }
file_has() { grep -q -- "$2" "$1"; }

topo() { "$PY" "$LIB/topology.py" "$@"; }
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; } # run in a namespace

# ------------------------------------------------------------------------------------------- topology
quiet_netns() { # no IPv6 (no RS/ND/MLD noise), routing on, reverse-path filter off
  nsx "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 2>/dev/null || true
  # No tail loss probes: a client that delays its ACK of a server's last segment or FIN for a few ms would
  # otherwise get a probe retransmission, and "no retransmission unless induced" would not hold exactly.
  nsx "$1" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
    net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.default.send_redirects=0 net.ipv4.tcp_early_retrans=0
  ip -n "$1" link set lo up
}

no_offloads() { # NETNS DEV: full-size, fully checksummed packets in the captures (no TSO/GSO/GRO giants)
  nsx "$1" ethtool -K "$2" tx off tso off gso off gro off >/dev/null 2>&1 || true
  nsx "$1" ethtool -k "$2" | grep -q '^tx-checksumming: off' || die "could not turn off tx offloads on $1/$2"
}

build_topology() {
  local name ns uip umac cidr bip bmac vip vmac
  local -a nodes=()
  while read -r name ns uip umac cidr bip bmac vip vmac; do
    nodes+=("$name $ns $uip $umac $cidr $bip $bmac $vip $vmac")
    ip netns add "$ns"
    quiet_netns "$ns"
    nsx "$ns" sysctl -qw net.ipv4.ip_forward=1
    # Bridged pod-to-pod frames stay pure L2 even where br_netfilter is loaded.
    nsx "$ns" sh -c 'for f in /proc/sys/net/bridge/bridge-nf-call-*; do [ -e "$f" ] && echo 0 > "$f"; done; true'
  done < <(topo nodes)
  [ ${#nodes[@]} -eq 2 ] || die "topology.json must have exactly two nodes"

  # Underlay: one veth pair, named eth0 in both node namespaces.
  read -r _ ns1 uip1 umac1 _ <<<"${nodes[0]}"
  read -r _ ns2 uip2 umac2 _ <<<"${nodes[1]}"
  ip -n "$ns1" link add eth0 address "$umac1" type veth peer name eth0 address "$umac2" netns "$ns2"

  local other
  for i in 0 1; do
    read -r name ns uip umac cidr bip bmac vip vmac <<<"${nodes[$i]}"
    other=${nodes[$((1 - i))]}
    local ons ouip oumac ocidr ovip ovmac
    read -r _ ons ouip oumac ocidr _ _ ovip ovmac <<<"$other"
    ip -n "$ns" addr add "$uip/24" dev eth0
    ip -n "$ns" link set eth0 mtu 1500 up
    ip -n "$ns" neigh replace "$ouip" lladdr "$oumac" dev eth0 nud permanent
    no_offloads "$ns" eth0

    ip -n "$ns" link add cni0 address "$bmac" type bridge
    ip -n "$ns" addr add "$bip/${cidr#*/}" dev cni0
    ip -n "$ns" link set cni0 up

    # Flannel-style VXLAN: static FDB + neighbour per remote node, a route per remote pod CIDR.
    ip -n "$ns" link add vxlan0 address "$vmac" type vxlan id "$(topo get vxlan.vni)" local "$uip" dev eth0 \
      dstport "$(topo get vxlan.dstport)" nolearning
    ip -n "$ns" link set vxlan0 mtu "$(topo get pod_mtu)"
    ip -n "$ns" addr add "$vip/32" dev vxlan0
    ip -n "$ns" link set vxlan0 up
    nsx "$ns" bridge fdb append "$ovmac" dev vxlan0 dst "$ouip" self permanent
    ip -n "$ns" neigh replace "$ovip" lladdr "$ovmac" dev vxlan0 nud permanent
    ip -n "$ns" route replace "$ocidr" via "$ovip" dev vxlan0 onlink
    no_offloads "$ns" vxlan0
  done

  local pod node nodens podns ip mac veth vmac gw mtu
  mtu=$(topo get pod_mtu)
  while read -r pod node nodens podns ip mac veth vmac gw; do
    ip netns add "$podns"
    quiet_netns "$podns"
    ip -n "$nodens" link add "$veth" address "$vmac" type veth peer name eth0 address "$mac" netns "$podns"
    ip -n "$nodens" link set "$veth" master cni0 mtu "$mtu" up
    nsx "$nodens" bridge fdb replace "$mac" dev "$veth" master static
    ip -n "$podns" link set eth0 mtu "$mtu" up
    ip -n "$podns" addr add "$ip/24" dev eth0
    ip -n "$podns" route add default via "$gw"
    no_offloads "$nodens" "$veth"
    no_offloads "$podns" eth0
  done < <(topo pods)

  # kube-proxy: ClusterIP DNAT on every node.
  local rules="" sip sport proto tip tport
  while read -r sip sport proto tip tport; do
    rules+="    ip daddr $sip $proto dport $sport dnat to $tip:$tport"$'\n'
  done < <(topo dnat)
  for i in 0 1; do
    read -r _ ns _ <<<"${nodes[$i]}"
    nsx "$ns" nft -f - <<EOF
table ip fs_kube {
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
$rules  }
}
EOF
  done
}

warm_up() { # fill ARP caches and bridge FDBs before the captures start
  local all=() pod node nodens podns ip rest
  while read -r pod node nodens podns ip rest; do all+=("$podns $ip"); done < <(topo pods)
  local entry dsts
  for entry in "${all[@]}"; do
    read -r podns ip <<<"$entry"
    dsts=$(topo pods | awk -v me="$ip" '$5 != me {print $5} $5 == me {print $9}' | tr '\n' ' ')
    # shellcheck disable=SC2086
    nsx "$podns" "$PY" "$LIB/warmup.py" "$ip" $dsts
  done
  sleep 0.5
}

# ------------------------------------------------------------------------------------------- servers
start_bg() { # start_bg LOGFILE NETNS CMD... : background process, PID remembered for cleanup
  local logf=$1 ns=$2; shift 2
  ip netns exec "$ns" "$@" >"$logf" 2>&1 &
  PIDS+=($!)
}

nginx_conf() { # nginx_conf DIR LISTEN_IP ROLE
  local dir=$1 ip=$2 role=$3
  mkdir -p "$dir/tmp" "$dir/www"
  local locations
  if [ "$role" = frontend ]; then
    locations="
    location = / { return 200 'frontend ok\n'; }
    location = /healthz { return 200 'ok\n'; }
    location ~ ^/users/[0-9]+\$ { return 200 '{\"user\": \"\$uri\"}\n'; }
    location = /orders { return 201 '{\"order\": \"created\"}\n'; }
    location = /error { return 500; }
    location /api/ {
      proxy_pass http://$(topo service-ip api):80/;
      proxy_hide_header X-Request-ID;
    }
    location / { return 404; }"
  else
    locations="
    location = /items { return 200 '[{\"id\": 1}, {\"id\": 2}]\n'; }
    location ~ ^/items/[0-9]+\$ { return 200 '{\"item\": \"\$uri\"}\n'; }
    location = /fail { return 500; }
    location / { return 404; }"
  fi
  local bulk=""
  if [ "$role" = frontend ]; then
    bulk="
  server {
    listen $ip:8080;
    location = /big { root $dir/www; }
    location / { return 404; }
  }"
  fi
  cat >"$dir/nginx.conf" <<EOF
user root;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 128; }
http {
  default_type text/plain;
  log_format fs escape=json '{"msec": "\$msec", "request_time": "\$request_time", "remote_addr": "\$remote_addr", "remote_port": "\$remote_port", "server_addr": "\$server_addr", "server_port": "\$server_port", "connection": "\$connection", "connection_requests": "\$connection_requests", "status": "\$status", "request": "\$request", "x_request_id": "\$http_x_request_id", "traceparent": "\$http_traceparent", "upstream_addr": "\$upstream_addr", "upstream_status": "\$upstream_status", "upstream_connect_time": "\$upstream_connect_time", "upstream_response_time": "\$upstream_response_time"}';
  access_log $dir/access.log fs;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  keepalive_timeout 60s;
  keepalive_requests 1000;
  server_tokens off;
  add_header X-Request-ID \$http_x_request_id always;
  server {
    listen $ip:80;$locations
  }$bulk
}
EOF
}

start_servers() {
  local fe_ns fe_ip api_ns api_ip
  fe_ns=$(topo pod-netns frontend); fe_ip=$(topo pod-ip frontend)
  api_ns=$(topo pod-netns api); api_ip=$(topo pod-ip api)

  nginx_conf "$WORK/frontend" "$fe_ip" frontend
  "$PY" -c 'import sys; open(sys.argv[1], "wb").write(bytes((i * 7 + i // 251) & 0xFF for i in range(65536)))' \
    "$WORK/frontend/www/big"
  nsx "$fe_ns" nginx -t -q -c "$WORK/frontend/nginx.conf" 2>"$WORK/frontend/nginx-t.log" || die "frontend nginx.conf: $(cat "$WORK/frontend/nginx-t.log")"
  start_bg "$WORK/frontend/stdout.log" "$fe_ns" nginx -c "$WORK/frontend/nginx.conf" -g 'daemon off;'
  nginx_conf "$WORK/api" "$api_ip" api
  start_bg "$WORK/api/stdout.log" "$api_ns" nginx -c "$WORK/api/nginx.conf" -g 'daemon off;'

  local redis_ns redis_ip
  redis_ns=$(topo pod-netns redis); redis_ip=$(topo pod-ip redis)
  mkdir -p "$WORK/redis"
  start_bg "$WORK/redis/stdout.log" "$redis_ns" redis-server --bind "$redis_ip" --port 6379 --save '' \
    --appendonly no --protected-mode no --dir "$WORK/redis" --daemonize no

  local dns_ns dns_ip args=() rname rvalue
  dns_ns=$(topo pod-netns dns); dns_ip=$(topo pod-ip dns)
  while read -r rname rvalue; do args+=("--host-record=$rname,$rvalue"); done < <(topo dns-records)
  mkdir -p "$WORK/dns"
  start_bg "$WORK/dns/stdout.log" "$dns_ns" dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv \
    --no-hosts --no-poll --bind-interfaces --listen-address="$dns_ip" --port=53 --user=root \
    --pid-file="$WORK/dns/dnsmasq.pid" --local="/$(topo get dns_domain)/" --local-ttl=30 --log-queries \
    --log-facility="$WORK/dns/queries.log" "${args[@]}"

  # PostgreSQL: a throwaway cluster, trust auth, listening on the pod IP only.
  local db_ns db_ip pgbin
  db_ns=$(topo pod-netns db); db_ip=$(topo pod-ip db)
  pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  mkdir -p "$WORK/pg/sock"
  chown -R postgres:postgres "$WORK/pg"
  setpriv --reuid=postgres --regid=postgres --init-groups -- "$pgbin/initdb" -D "$WORK/pg/data" -U postgres \
    --auth=trust --encoding=UTF8 --locale=C --no-sync >"$WORK/pg/initdb.log" 2>&1 || die "initdb: $(tail -5 "$WORK/pg/initdb.log")"
  # Pods reach it over the pod network; trust auth keeps the wire exchange to startup + queries.
  printf 'local all all trust\nhost all all %s trust\n' "$(topo get pod_network)" >"$WORK/pg/data/pg_hba.conf"
  start_bg "$WORK/pg/server.log" "$db_ns" setpriv --reuid=postgres --regid=postgres --init-groups -- \
    "$pgbin/postgres" -D "$WORK/pg/data" -c listen_addresses="$db_ip" -c port=5432 \
    -c unix_socket_directories="$WORK/pg/sock" -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
    -c log_connections=on -c log_disconnections=on -c log_statement=all -c "log_line_prefix=%m [%p] %r "

  wait_for 20 "nginx (frontend) on :80" listening "$fe_ns" tcp 80
  wait_for 20 "nginx (frontend) on :8080" listening "$fe_ns" tcp 8080
  wait_for 20 "nginx (api) on :80" listening "$api_ns" tcp 80
  wait_for 20 "redis-server on :6379" listening "$redis_ns" tcp 6379
  wait_for 20 "dnsmasq on :53" listening "$dns_ns" udp 53
  wait_for 60 "postgres on :5432" listening "$db_ns" tcp 5432
  wait_for 30 "postgres accepting queries" nsx "$db_ns" setpriv --reuid=postgres --regid=postgres --init-groups -- \
    "$pgbin/psql" -h "$WORK/pg/sock" -U postgres -d postgres -Atqc 'SELECT 1'
  # Schema for the workload, over the Unix socket (no packets).
  nsx "$db_ns" setpriv --reuid=postgres --regid=postgres --init-groups -- "$pgbin/psql" -h "$WORK/pg/sock" \
    -U postgres -d postgres -qv ON_ERROR_STOP=1 -c \
    "CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL); INSERT INTO items (name) VALUES ('apple'), ('banana'), ('cherry');" \
    >/dev/null
}

# ------------------------------------------------------------------------------------------- captures
CAP_PIDS=()
start_captures() {
  mkdir -p "$WORK/cap"
  local name ns rest ifaces pod node nodens podns ip mac veth r2
  while read -r name ns rest; do
    ifaces=(-i eth0 -i vxlan0 -i cni0)
    while read -r pod node nodens podns ip mac veth r2; do
      [ "$nodens" = "$ns" ] && ifaces+=(-i "$veth")
    done < <(topo pods)
    ip netns exec "$ns" tcpdump -i any -y LINUX_SLL2 -s 0 -U -p -w "$WORK/cap/k8s-$name.any.pcap" \
      >"$WORK/cap/tcpdump-$name.log" 2>&1 &
    CAP_PIDS+=($!); PIDS+=($!)
    ip netns exec "$ns" dumpcap -q -p -s 0 "${ifaces[@]}" -w "$WORK/cap/k8s-$name.pcapng" \
      >"$WORK/cap/dumpcap-$name.log" 2>&1 &
    CAP_PIDS+=($!); PIDS+=($!)
    wait_for 20 "tcpdump on $name" file_has "$WORK/cap/tcpdump-$name.log" "listening on"
    wait_for 20 "dumpcap on $name" file_has "$WORK/cap/dumpcap-$name.log" "Capturing on"
  done < <(topo nodes)
  sleep 1 # the packet sockets are bound once the tools say so; a margin for dumpcap's per-interface threads
}

stop_captures() {
  local pid deadline
  for pid in "${CAP_PIDS[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
  deadline=$((SECONDS + 15))
  for pid in "${CAP_PIDS[@]}"; do
    while alive "$pid"; do
      [ $SECONDS -lt $deadline ] || die "capture process $pid did not stop after SIGINT"
      sleep 0.1
    done
    wait "$pid" 2>/dev/null || true
  done
  grep -h -E 'packets (captured|dropped)|Packets' "$WORK"/cap/*.log >&2 || true
  if grep -q -E '^[1-9][0-9]* packets dropped by kernel' "$WORK"/cap/tcpdump-*.log; then
    die "tcpdump dropped packets; rerun on a less busy machine"
  fi
}

# ------------------------------------------------------------------------------------------- main
main() {
  ensure_packages
  PY=/usr/bin/python3; [ -x "$PY" ] || PY=$(command -v python3)
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  remove_namespaces # leftovers of an earlier, interrupted run
  rm -rf /tmp/fs-samples.* # and its kept work dirs
  WORK=$(mktemp -d /tmp/fs-samples.XXXXXX)
  chmod 755 "$WORK"
  mkdir -p "$OUT"

  log "building topology"
  build_topology
  log "starting servers"
  start_servers
  warm_up
  # The warm-up's replies leave neighbour entries in DELAY; their probes go out 5 s later. Let them
  # finish before capturing, so the captures hold (almost) no ARP.
  sleep 6
  for ns in $(topo nodes | awk '{print $2}'); do
    ip -n "$ns" -j -d link show >"$WORK/links-$ns.json"
    ip -n "$ns" -j addr show >"$WORK/addrs-$ns.json"
  done

  log "starting captures"
  start_captures
  local t_start t_end
  t_start=$("$PY" -c 'import time; print(time.time_ns() // 1000)')
  log "client workload (node1)"
  nsx "$(topo pod-netns client)" timeout 120 "$PY" "$LIB/workload_client.py" "$WORK/client.json"
  log "api workload (node2)"
  nsx "$(topo pod-netns api)" timeout 120 "$PY" "$LIB/workload_api.py" "$WORK/api.json"
  sleep 1 # last FIN/ACKs
  t_end=$("$PY" -c 'import time; print(time.time_ns() // 1000)')
  stop_captures

  local name
  for name in $(topo nodes | awk '{print $1}'); do
    install -m 644 "$WORK/cap/k8s-$name.any.pcap" "$WORK/cap/k8s-$name.pcapng" "$OUT/"
  done
  mergecap -I none -w "$OUT/k8s-both.pcapng" "$OUT/k8s-node1.pcapng" "$OUT/k8s-node2.pcapng"

  log "writing ground truth"
  "$PY" "$LIB/build_truth.py" --work "$WORK" --out "$OUT/k8s.truth.json" --capture-start-us "$t_start" \
    --capture-end-us "$t_end" --versions "nginx=$(nginx -v 2>&1 | sed 's|.*/||')" \
    "redis=$(redis-server --version | sed -E 's/.*v=([^ ]+).*/\1/')" \
    "postgres=$(ls -d /usr/lib/postgresql/*/ | sort -V | tail -1 | xargs basename)" \
    "dnsmasq=$(dnsmasq --version | head -1 | awk '{print $3}')" "kernel=$(uname -r)" \
    "tcpdump=$(tcpdump --version | head -1 | awk '{print $3}')" "dumpcap=$(dumpcap -v | head -1 | awk '{print $2}')"
  "$PY" "$LIB/k8s-metadata.py" --truth "$OUT/k8s.truth.json" --out "$OUT/k8s.metadata.json" # kubectl-shaped dump for auto-tagging
  ls -l "$OUT"/k8s-* >&2
  log "done"
}

main "$@"
