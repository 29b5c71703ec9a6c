#!/usr/bin/env bash
# The production shape, on loopback (docs/production.md): nginx terminating TLS in front of three
# step 10 replicas and two Keycloak nodes in production mode on PostgreSQL 15, clustered through
# the database. Everything comes from Debian's packages (nginx, postgresql, openssl) and the same
# Keycloak distribution as scripts/keycloak.sh; nothing listens beyond loopback.
#
#   scripts/production.sh start            CA and certificates (once), PostgreSQL, Keycloak node 1
#                                          (imports the realm), node 2, nginx, the 3 replicas;
#                                          waits until each answers
#   scripts/production.sh stop             stops what start started (its PIDs only), in reverse
#   scripts/production.sh status           one line per part; exit 0 when all run, 3 otherwise
#   scripts/production.sh rolling-restart  restarts the replicas one at a time (no request lost)
#   scripts/production.sh replica start|stop|kill N   one replica (1-3)
#   scripts/production.sh keycloak start|stop N                     one Keycloak node (1-2), taken
#                                          out of nginx's upstream before it stops, back after
#   scripts/production.sh postgres restart                          PostgreSQL (fast shutdown)
#   scripts/production.sh reset            stop, then delete the database and Keycloak copies
#
# Public URLs (what every client, token and metadata document names):
#   https://localhost:9443/mcp             the MCP server (nginx → 127.0.0.1:19001-19003)
#   https://localhost:8443                 Keycloak        (nginx → 127.0.0.1:18080-18081)
# Two ports rather than two host names: *.localhost names are not resolved by glibc, Node or
# Python without editing /etc/hosts, which a script should not do; separate ports still make them
# separate origins, as auth.example.com and mcp.example.com would be. 8443/9443 echo the
# single-node setup's 8080/9000, and none of these ports is one the other scripts use.
#
# Trust: the script makes a demo CA (.production/ca/ca.crt, kept between runs) and one server
# certificate for localhost, 127.0.0.1 and ::1. Clients trust that CA explicitly: curl --cacert,
# SSL_CERT_FILE (step 10, step 11, Python), NODE_EXTRA_CA_CERTS (Node), an NSS database (Chromium).
#
# Secrets: the database and the bootstrap admin passwords are random, made at the first start,
# kept in .production/secrets/ (0600), passed to Keycloak in its environment, never on a command
# line and never printed. DEMO ONLY: the private keys live beside them, unencrypted.
#
# Environment: PRODUCTION_DIR (.production), PRODUCTION_PG_DIR (<PRODUCTION_DIR>/pg, or, when run
# as root and the postgres user cannot reach that directory, /var/tmp/mcp-auth-steps-production-pg),
# PRODUCTION_TIMEOUT (240 s per Keycloak node), PRODUCTION_STEP10 (target/debug/step10, what the
# tests build; a real deployment runs `cargo build --release`'s target/release/step10),
# PRODUCTION_SHUTDOWN_DELAY (6 s), SKIP_BUILD=1 (use the step10 binary as it is).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PROD="${PRODUCTION_DIR:-$ROOT/.production}"
TIMEOUT="${PRODUCTION_TIMEOUT:-240}"
# The Keycloak that scripts/keycloak.sh installs (its version, its choice of Java).
KC_DIST="$("$ROOT/scripts/keycloak.sh" dist)"
KEYCLOAK_VERSION="${KC_DIST##*/keycloak-}"
KC_FEATURES=cimd,resource-indicators
PGBIN=/usr/lib/postgresql/15/bin
PG_PORT=15432
MCP_PUBLIC=https://localhost:9443
KC_PUBLIC=https://localhost:8443
REPLICA_PORTS=(19001 19002 19003)
SHUTDOWN_DELAY="${PRODUCTION_SHUTDOWN_DELAY:-6}"
STEP10="${PRODUCTION_STEP10:-$ROOT/target/debug/step10}"
KC_PORTS=(18080 18081)
KC_MGMT_PORTS=(18980 18981)
KC_JGROUPS_PORTS=(17800 17801)
CA="$PROD/ca/ca.crt"
PIDS="$PROD/pids"
LOGS="$PROD/logs"
NGINX="$PROD/nginx"

die() { echo "production.sh: $*" >&2; exit 1; }
say() { echo "production.sh: $*"; }
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY

need_tools() {
  local missing=()
  command -v nginx >/dev/null || missing+=("nginx (apt-get install nginx-light)")
  [ -x "$PGBIN/postgres" ] || missing+=("PostgreSQL 15 in $PGBIN (apt-get install postgresql)")
  command -v openssl >/dev/null || missing+=("openssl")
  command -v jq >/dev/null || missing+=("jq")
  [ ${#missing[@]} -eq 0 ] || die "missing: ${missing[*]}"
}

# ---------------------------------------------------------------------------------------- TLS
make_certificates() {
  mkdir -p "$PROD/ca" "$PROD/tls"
  chmod 700 "$PROD/ca"
  if [ ! -s "$PROD/ca/ca.key" ] || [ ! -s "$CA" ]; then
    say "making the demo CA ($CA)"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 90 \
      -keyout "$PROD/ca/ca.key" -out "$CA" -subj "/CN=mcp-auth-steps demo CA (loopback only)" \
      -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
      -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null || die "openssl could not make the CA"
    chmod 600 "$PROD/ca/ca.key"
    rm -f "$PROD/tls/server.crt"
  fi
  # A server certificate lives 30 days; a new one is made when it has less than a day left.
  if [ ! -s "$PROD/tls/server.crt" ] || ! openssl x509 -checkend 86400 -noout -in "$PROD/tls/server.crt" >/dev/null; then
    say "making the server certificate for localhost, 127.0.0.1 and ::1"
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
      -keyout "$PROD/tls/server.key" -out "$PROD/tls/server.csr" 2>/dev/null || die "openssl could not make the server key"
    openssl x509 -req -in "$PROD/tls/server.csr" -CA "$CA" -CAkey "$PROD/ca/ca.key" -CAcreateserial \
      -days 30 -out "$PROD/tls/server.crt" -extfile <(printf '%s\n' \
        "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" "basicConstraints=critical,CA:FALSE" \
        "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth") 2>/dev/null \
      || die "openssl could not sign the server certificate"
    chmod 600 "$PROD/tls/server.key"
    rm -f "$PROD/tls/server.csr"
  fi
}

secret() { # secret NAME: prints the secret, making it at the first call
  local file="$PROD/secrets/$1"
  if [ ! -s "$file" ]; then
    mkdir -p "$PROD/secrets"
    chmod 700 "$PROD/secrets"
    (umask 077; openssl rand -hex 24 >"$file")
  fi
  cat "$file"
}

# --------------------------------------------------------------------------------- PostgreSQL
pg_dir() {
  if [ -n "${PRODUCTION_PG_DIR:-}" ]; then echo "$PRODUCTION_PG_DIR"; return; fi
  if [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$PROD" 2>/dev/null; then
    echo /var/tmp/mcp-auth-steps-production-pg
  else
    echo "$PROD/pg"
  fi
}
# as_pg COMMAND...: PostgreSQL refuses to run as root; as root, its commands run as postgres.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
pg_running() { as_pg "$PGBIN/pg_ctl" -D "$(pg_dir)/data" status >/dev/null 2>&1; }

start_postgres() {
  local dir; dir="$(pg_dir)"
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
  chmod 700 "$dir"
  if [ ! -s "$dir/data/PG_VERSION" ]; then
    say "initialising PostgreSQL 15 in $dir/data"
    as_pg "$PGBIN/initdb" -D "$dir/data" -U postgres --auth-local=peer --auth-host=scram-sha-256 \
      -E UTF8 --no-instructions >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
    # Loopback TCP only (scram-sha-256), and the socket in a directory only postgres can enter.
    as_pg mkdir -p "$dir/run"
    as_pg chmod 700 "$dir/run"
    printf '%s\n' "listen_addresses = '127.0.0.1'" "port = $PG_PORT" \
      "unix_socket_directories = '$dir/run'" "password_encryption = 'scram-sha-256'" \
      | as_pg tee -a "$dir/data/postgresql.conf" >/dev/null
  fi
  if ! pg_running; then
    as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 start >/dev/null \
      || { tail -n 20 "$dir/postgres.log" >&2; die "PostgreSQL did not start"; }
  fi
  # The keycloak role and database, once; the password from the secrets file, through stdin.
  if ! as_pg "$PGBIN/psql" -h "$dir/run" -p "$PG_PORT" -U postgres -tAc \
      "SELECT 1 FROM pg_roles WHERE rolname = 'keycloak'" 2>/dev/null | grep -q 1; then
    printf "CREATE ROLE keycloak LOGIN PASSWORD '%s';\nCREATE DATABASE keycloak OWNER keycloak;\n" "$(secret db-password)" \
      | as_pg "$PGBIN/psql" -q -h "$dir/run" -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 >/dev/null \
      || die "could not create the keycloak role and database"
  fi
  say "PostgreSQL 15 on 127.0.0.1:$PG_PORT (data $dir/data)"
}

stop_postgres() {
  if pg_running; then
    as_pg "$PGBIN/pg_ctl" -D "$(pg_dir)/data" -m fast -w stop >/dev/null && say "PostgreSQL stopped"
  fi
}

# ----------------------------------------------------------------------------------- Keycloak
# need_java: KC_JAVA, scripts/keycloak.sh's choice (KEYCLOAK_JAVA_HOME, or a JDK 25, 21 or 17).
KC_JAVA=""
need_java() {
  [ -n "$KC_JAVA" ] || KC_JAVA="$("$ROOT/scripts/keycloak.sh" java)" || die "no Java for Keycloak (see above)"
}

# The build-time options of both nodes (kc.sh build): PostgreSQL, the tutorial's features, the
# health checks; the cache is clustered (ispn) with the default jdbc-ping stack, which finds the
# other nodes through a table in the same database.
KC_BUILD=(--db=postgres "--features=$KC_FEATURES" --health-enabled=true --cache=ispn)

build_keycloak() {
  [ -x "$KC_DIST/bin/kc.sh" ] || "$ROOT/scripts/keycloak.sh" install
  need_java
  local stamp="${KC_BUILD[*]} $KEYCLOAK_VERSION" node
  if [ "$(cat "$PROD/keycloak/built" 2>/dev/null)" != "$stamp" ]; then
    say "copying Keycloak $KEYCLOAK_VERSION and building it for production (kc.sh build ${KC_BUILD[*]})"
    rm -rf "$PROD/keycloak"
    mkdir -p "$PROD/keycloak"
    cp -a "$KC_DIST" "$PROD/keycloak/node1"
    rm -rf "$PROD/keycloak/node1/data"
    JAVA_HOME="$KC_JAVA" "$PROD/keycloak/node1/bin/kc.sh" build "${KC_BUILD[@]}" \
      >"$PROD/keycloak/build.log" 2>&1 || { tail -n 20 "$PROD/keycloak/build.log" >&2; die "kc.sh build failed"; }
    cp -a "$PROD/keycloak/node1" "$PROD/keycloak/node2"
    echo "$stamp" >"$PROD/keycloak/built"
  fi
  # The realm: the tutorial's realm file with the MCP server's public https URL as resource and
  # audience, plus http-era-client (see production_realm).
  production_realm >"$PROD/keycloak/mcp-realm.json"
  for node in 1 2; do
    mkdir -p "$PROD/keycloak/node$node/data/import"
    rm -f "$PROD/keycloak/node$node/data/import/"*.json
  done
  cp "$PROD/keycloak/mcp-realm.json" "$PROD/keycloak/node1/data/import/mcp-realm-realm.json"
}

# The realm as the single-node setup defines it (env/keycloak/mcp-realm.json), moved to the public
# URL: every http://localhost:9000/mcp (the resource_url of echo-mcp-server, the Audience mappers
# of the mcp:* scopes) becomes https://localhost:9443/mcp. One client is added to show what a
# missed URL does: http-era-client (direct access grants, no mcp:* scope) whose only audience is
# the old scheme, http://localhost:9443/mcp; step 10 refuses its tokens ("unexpected audience").
production_realm() {
  jq --arg old "http://localhost:9000/mcp" --arg new "$MCP_PUBLIC/mcp" '
    walk(if type == "string" then gsub($old; $new) else . end)
    | .clients += [{
        clientId: "http-era-client", name: "http-era-client (DEMO: audience on the old scheme)",
        enabled: true, publicClient: true, directAccessGrantsEnabled: true,
        standardFlowEnabled: false, fullScopeAllowed: false,
        defaultClientScopes: ["basic"], optionalClientScopes: [],
        protocolMappers: [{
          name: "audience http://localhost:9443/mcp", protocol: "openid-connect",
          protocolMapper: "oidc-audience-mapper", consentRequired: false,
          config: {"included.custom.audience": "http://localhost:9443/mcp",
                   "access.token.claim": "true", "id.token.claim": "false"}
        }]
      }]' "$ROOT/env/keycloak/mcp-realm.json"
}

kc_pidfile() { echo "$PIDS/keycloak$1.pid"; }
kc_ready() { curl -fsS --max-time 3 -o /dev/null "http://127.0.0.1:${KC_MGMT_PORTS[$1 - 1]}/health/ready" 2>/dev/null; }
# alive PIDFILE: its PID runs and is still what this script started there (its command line
# names that replica's port and env file, or that Keycloak node's copy), not a recycled PID.
alive() {
  local pid mark name
  [ -s "$1" ] || return 1
  pid="$(cat "$1")"
  kill -0 "$pid" 2>/dev/null || return 1
  name="${1##*/}"; name="${name%.pid}"
  case "$name" in
    replica*) mark="--port ${REPLICA_PORTS[${name#replica} - 1]} " ;;
    keycloak*) mark="$PROD/keycloak/node${name#keycloak}/" ;;
    *) return 1 ;;
  esac
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$mark"
}

start_keycloak_node() {
  local n="$1" i=$(($1 - 1)) home="$PROD/keycloak/node$1" pidfile log
  pidfile="$(kc_pidfile "$n")"; log="$LOGS/keycloak$n.log"
  if alive "$pidfile" && kc_ready "$n"; then say "Keycloak node $n already runs"; return 0; fi
  alive "$pidfile" && die "Keycloak node $n (pid $(cat "$pidfile")) runs but is not ready; stop it first"
  local args=(start --optimized
    "--db-url=jdbc:postgresql://127.0.0.1:$PG_PORT/keycloak" --db-username=keycloak
    # The public URL, fixed: issuer, endpoints, login pages and redirects all use it, whatever
    # Host a request arrives with. The proxy's X-Forwarded-* are read only from 127.0.0.1.
    "--hostname=$KC_PUBLIC" --proxy-headers=xforwarded --proxy-trusted-addresses=127.0.0.1
    # Plain HTTP between nginx and the node, on loopback only (TLS ends at the proxy).
    --http-enabled=true --http-host=127.0.0.1 "--http-port=${KC_PORTS[$i]}"
    "--http-management-port=${KC_MGMT_PORTS[$i]}"
    --cache-embedded-network-bind-address=127.0.0.1
    "--cache-embedded-network-bind-port=${KC_JGROUPS_PORTS[$i]}"
    # For 6 s a stopping node fails its readiness and answers with Connection: close, longer
    # than nginx's upstream keepalive_timeout (5 s): nginx closes every kept-alive connection to
    # it before the node closes any (the race that loses a POST). Then requests in flight finish.
    --shutdown-delay=6s --shutdown-timeout=10s)
  [ "$n" = 1 ] && args+=(--import-realm)
  need_java
  mkdir -p "$PIDS" "$LOGS"
  say "starting Keycloak node $n on 127.0.0.1:${KC_PORTS[$i]} (management ${KC_MGMT_PORTS[$i]}, cluster ${KC_JGROUPS_PORTS[$i]})"
  local t0=$SECONDS
  JAVA_HOME="$KC_JAVA" KC_DB_PASSWORD="$(secret db-password)" \
  KC_BOOTSTRAP_ADMIN_USERNAME=admin KC_BOOTSTRAP_ADMIN_PASSWORD="$(secret admin-password)" \
  JAVA_OPTS_KC_HEAP="-Xms96m -Xmx640m" JAVA_OPTS_APPEND="-Djava.net.preferIPv4Stack=true" \
    setsid "$home/bin/kc.sh" "${args[@]}" >"$log" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$pidfile"
  while [ $((SECONDS - t0)) -lt "$TIMEOUT" ]; do
    if kc_ready "$n"; then say "Keycloak node $n ready after $((SECONDS - t0)) s"; return 0; fi
    # kill -0, not alive: until setsid has exec'd kc.sh, the command line is still this shell's.
    kill -0 "$pid" 2>/dev/null || { grep -E 'ERROR|FATAL' "$log" | tail -n 10 >&2 || true; die "Keycloak node $n exited during start-up (log $log)"; }
    sleep 1
  done
  tail -n 20 "$log" >&2
  die "Keycloak node $n was not ready within $TIMEOUT s (log $log)"
}

stop_pid() { # stop_pid PIDFILE NAME [SIGNAL]: signals the process group started with setsid
  local pidfile="$1" name="$2" sig="${3:-TERM}" pid
  alive "$pidfile" || { rm -f "$pidfile"; return 0; }
  pid="$(cat "$pidfile")"
  kill "-$sig" -- "-$pid" 2>/dev/null || kill "-$sig" "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 30))
  while kill -0 -- "-$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
  if kill -0 -- "-$pid" 2>/dev/null; then
    say "$name (pid $pid) still runs 30 s after SIG$sig: SIGKILL"
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
  say "$name stopped (pid $pid, SIG$sig)"
}

# ------------------------------------------------------------------------------ nginx config
# Two nginx instances, one per public origin: "mcp" (https://localhost:9443 → the replicas) and
# "keycloak" (https://localhost:8443 → the nodes), as two services would have two load balancers.
# A reload of one (to take a Keycloak node out) closes only its own clients' idle kept-alive
# connections, never the MCP clients'. Each configuration is written at every start and reload;
# a Keycloak node listed in $NGINX/down is marked `down`: nginx sends it no new request.
kc_down() { grep -qx "keycloak$1" "$NGINX/down" 2>/dev/null && printf ' down'; return 0; }

# nginx_site NAME: the upstream and server blocks of one instance.
nginx_site() {
  local r
  case "$1" in
    mcp) cat <<EOF
  upstream mcp_replicas {
$(for r in 1 2 3; do echo "    server 127.0.0.1:${REPLICA_PORTS[$r - 1]} max_fails=1 fail_timeout=5s;"; done)
    # Kept-alive connections to the replicas, closed by nginx after 5 s idle: before a
    # replica's own 10 s header timeout would, so a request never races a closing connection.
    keepalive 32;
    keepalive_timeout 5s;
  }

  # The MCP server: https://localhost:9443
  server {
    listen 127.0.0.1:9443 ssl;
    listen [::1]:9443 ssl;
    server_name localhost;
    location / {
      proxy_pass http://mcp_replicas;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      # The replicas check Host against their allow-list (loopback here) and read nothing else
      # the proxy could add: no X-Forwarded-* is sent, because none would be read.
      proxy_set_header Host \$host;
      # Retry policy. A request is passed to the next replica only when nginx could not connect
      # or the replica closed without answering before the request was sent. A POST already sent
      # is never sent again (nginx's rule for non-idempotent methods; no "non_idempotent" here):
      # tools/call may have run.
      proxy_next_upstream error timeout;
      proxy_next_upstream_tries 3;
      proxy_connect_timeout 2s;
      proxy_read_timeout 60s;
      # Answers (JSON or an SSE stream) pass through as they come.
      proxy_buffering off;
    }
  }
EOF
    ;;
    keycloak) cat <<EOF
  upstream keycloak_nodes {
    server 127.0.0.1:${KC_PORTS[0]} max_fails=1 fail_timeout=5s$(kc_down 1);
    server 127.0.0.1:${KC_PORTS[1]} max_fails=1 fail_timeout=5s$(kc_down 2);
    keepalive 16;
    keepalive_timeout 5s;
  }

  # Keycloak: https://localhost:8443
  server {
    listen 127.0.0.1:8443 ssl;
    listen [::1]:8443 ssl;
    server_name localhost;
    location / {
      proxy_pass http://keycloak_nodes;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host:\$server_port;
      # What Keycloak reads with --proxy-headers=xforwarded, set here (never passed on from the
      # client: these replace any the client sent).
      proxy_set_header X-Forwarded-For \$remote_addr;
      proxy_set_header X-Forwarded-Proto https;
      proxy_set_header X-Forwarded-Host \$host;
      proxy_set_header X-Forwarded-Port \$server_port;
      # A node that refuses the connection or answers 502/503 is skipped; a POST already sent is
      # not repeated (login forms and token requests are not idempotent).
      proxy_next_upstream error timeout http_502 http_503;
      proxy_connect_timeout 2s;
      proxy_buffer_size 64k;
      proxy_buffers 8 64k;
    }
  }
EOF
    ;;
  esac
}

# write_nginx_conf NAME: $NGINX/NAME/nginx.conf, checked with nginx -t.
write_nginx_conf() {
  local dir="$NGINX/$1" user=""
  mkdir -p "$dir/tmp" "$dir/logs"
  if [ "$(id -u)" = 0 ]; then user="user nobody nogroup;"; chown -R nobody:nogroup "$dir/tmp"; fi
  cat >"$dir/nginx.conf" <<EOF
# Written by scripts/production.sh; edits are lost at the next start or reload.
$user
worker_processes 2;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 1024; }

http {
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  log_format upstream '\$remote_addr [\$time_local] "\$request" \$status '
                      'upstream=\$upstream_addr upstream_status=\$upstream_status rt=\$request_time';
  access_log $dir/logs/access.log upstream buffer=64k flush=1s;
  server_tokens off;

  ssl_certificate $PROD/tls/server.crt;
  ssl_certificate_key $PROD/tls/server.key;
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_session_cache shared:tls_$1:1m;

$(nginx_site "$1")
}
EOF
  nginx -t -q -p "$dir" -c "$dir/nginx.conf" 2>"$dir/logs/test.log" \
    || { cat "$dir/logs/test.log" >&2; die "nginx refused the configuration $dir/nginx.conf"; }
}

nginx_master() { # nginx_master NAME: prints the master's PID when it runs
  local pidfile="$NGINX/$1/nginx.pid"
  [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null && cat "$pidfile"
}

start_nginx() {
  local name
  for name in mcp keycloak; do
    write_nginx_conf "$name"
    if nginx_master "$name" >/dev/null; then say "nginx ($name) already runs"; continue; fi
    nginx -p "$NGINX/$name" -c "$NGINX/$name/nginx.conf" 2>>"$NGINX/$name/logs/error.log" \
      || die "nginx ($name) did not start ($NGINX/$name/logs/error.log)"
  done
  say "nginx: $MCP_PUBLIC → replicas ${REPLICA_PORTS[*]}; $KC_PUBLIC → Keycloak ${KC_PORTS[*]}"
}

stop_nginx() {
  local name master deadline
  for name in mcp keycloak; do
    master="$(nginx_master "$name")" || continue
    kill -QUIT "$master"
    deadline=$((SECONDS + 15))
    while kill -0 "$master" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
    say "nginx ($name) stopped"
  done
}

# reload_nginx NAME: the configuration written again, then waits until the old workers (which finish
# the requests they hold, then close their kept-alive connections) have exited.
reload_nginx() {
  local master old deadline pid still
  master="$(nginx_master "$1")" || die "nginx ($1) does not run"
  old="$(pgrep -P "$master" || true)"
  write_nginx_conf "$1"
  kill -HUP "$master"
  deadline=$((SECONDS + 30))
  while [ $SECONDS -lt $deadline ]; do
    still=0
    for pid in $old; do kill -0 "$pid" 2>/dev/null && still=1; done
    [ "$still" = 0 ] && return 0
    sleep 0.1
  done
  die "nginx ($1): the old workers did not exit within 30 s of the reload"
}

# stop_keycloak_node N: out of nginx's upstream first (a reload; the old workers finish what they
# hold and close their connections to it), then SIGTERM. nginx has no active health checks, so it
# would keep sending new requests to a node in its shutdown delay, and the one in flight when the
# node closes its connections would be lost (measured: docs/production.md).
stop_keycloak_node() {
  mkdir -p "$NGINX"
  grep -qx "keycloak$1" "$NGINX/down" 2>/dev/null || echo "keycloak$1" >>"$NGINX/down"
  if nginx_master keycloak >/dev/null; then reload_nginx keycloak; fi
  stop_pid "$(kc_pidfile "$1")" "Keycloak node $1" TERM
}

# start_keycloak_node_in N: started, ready, then back in nginx's upstream.
start_keycloak_node_in() {
  start_keycloak_node "$1"
  if [ -f "$NGINX/down" ]; then
    grep -vx "keycloak$1" "$NGINX/down" >"$NGINX/down.new" || true
    mv "$NGINX/down.new" "$NGINX/down"
  fi
  if nginx_master keycloak >/dev/null; then reload_nginx keycloak; fi
}

# ----------------------------------------------------------------------------------- replicas
replica_pidfile() { echo "$PIDS/replica$1.pid"; }
replica_ready() { curl -fsS --max-time 2 -o /dev/null "http://127.0.0.1:${REPLICA_PORTS[$1 - 1]}/health" 2>/dev/null; }

start_replica() {
  local n="$1" pidfile; pidfile="$(replica_pidfile "$n")"
  if alive "$pidfile"; then say "replica $n already runs"; return 0; fi
  mkdir -p "$PIDS" "$LOGS"
  # --header-timeout 10 (the default, stated): longer than nginx's upstream keepalive_timeout
  # (5 s), so the proxy, not the replica, closes an idle kept-alive connection, and a request is
  # never sent on a connection the replica is closing. --shutdown-delay 6: longer than that 5 s
  # too, for the same reason at shutdown (see rolling_restart).
  SSL_CERT_FILE="$CA" RUST_LOG="${RUST_LOG:-info}" setsid "$STEP10" \
    --env "$ROOT/env/production.env" --port "${REPLICA_PORTS[$n - 1]}" --header-timeout 10 \
    --shutdown-delay "$SHUTDOWN_DELAY" \
    >>"$LOGS/replica$n.log" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$pidfile"
  local t0=$SECONDS
  while [ $((SECONDS - t0)) -lt 30 ]; do
    if replica_ready "$n"; then return 0; fi
    kill -0 "$pid" 2>/dev/null || { tail -n 15 "$LOGS/replica$n.log" >&2; die "replica $n exited at start (log $LOGS/replica$n.log)"; }
    sleep 0.1
  done
  die "replica $n did not answer /health within 30 s"
}

# rolling_restart: one replica at a time: SIGTERM; the replica closes its listener at once (nginx's
# next connect is refused and goes to another replica: nothing was sent, so that retry is safe),
# serves its kept-alive connections for --shutdown-delay with Connection: close on every answer
# (nginx closes them; its idle ones it closes after keepalive_timeout 5 s), drains and exits;
# started again and ready; then nginx's fail_timeout (5 s) passes, so the proxy sends to it again
# before the next replica stops. The other two serve meanwhile. No nginx reload: a reload closes
# the clients' idle kept-alive connections, and a client that had just sent a request on one gets
# an error it may not retry (measured: docs/production.md).
rolling_restart() {
  local n t0
  for n in 1 2 3; do
    t0=$SECONDS
    stop_pid "$(replica_pidfile "$n")" "replica $n" TERM >/dev/null
    start_replica "$n"
    sleep 5
    say "replica $n restarted ($((SECONDS - t0)) s with the 5 s wait)"
  done
}

# ------------------------------------------------------------------------------------ commands
cmd_start() {
  need_tools
  mkdir -p "$PROD" "$PIDS" "$LOGS"
  if [ "${SKIP_BUILD:-}" != 1 ]; then
    (cd "$ROOT" && cargo build --quiet --bin step10) || die "cargo build --bin step10 failed"
  fi
  [ -x "$STEP10" ] || die "$STEP10 is missing (cargo build --bin step10, or --release for PRODUCTION_STEP10=target/release/step10)"
  make_certificates
  start_postgres
  build_keycloak
  start_keycloak_node 1
  start_keycloak_node 2
  rm -f "$NGINX/down"
  start_nginx
  local n
  for n in 1 2 3; do start_replica "$n"; done
  # The whole path, as a client sees it: TLS with the demo CA, nginx, a replica, Keycloak.
  curl -fsS --max-time 10 --cacert "$CA" -o /dev/null "$MCP_PUBLIC/.well-known/oauth-protected-resource/mcp" \
    || die "$MCP_PUBLIC does not answer through nginx"
  curl -fsS --max-time 10 --cacert "$CA" -o /dev/null "$KC_PUBLIC/realms/mcp-realm/.well-known/openid-configuration" \
    || die "$KC_PUBLIC does not answer through nginx"
  say "ready: $MCP_PUBLIC/mcp and $KC_PUBLIC/realms/mcp-realm (trust $CA)"
}

cmd_stop() {
  local n
  for n in 3 2 1; do stop_pid "$(replica_pidfile "$n")" "replica $n"; done
  stop_nginx
  for n in 2 1; do stop_pid "$(kc_pidfile "$n")" "Keycloak node $n"; done
  stop_postgres
}

cmd_status() {
  local n all=0
  for n in 1 2 3; do
    if alive "$(replica_pidfile "$n")" && replica_ready "$n"; then echo "replica $n: running on 127.0.0.1:${REPLICA_PORTS[$n - 1]}"; else echo "replica $n: stopped"; all=3; fi
  done
  if nginx_master mcp >/dev/null; then echo "nginx (mcp): running ($MCP_PUBLIC)"; else echo "nginx (mcp): stopped"; all=3; fi
  if nginx_master keycloak >/dev/null; then
    echo "nginx (keycloak): running ($KC_PUBLIC$([ -s "$NGINX/down" ] && printf '; out of the upstream: %s' "$(tr '\n' ' ' <"$NGINX/down")"))"
  else echo "nginx (keycloak): stopped"; all=3; fi
  for n in 1 2; do
    if alive "$(kc_pidfile "$n")" && kc_ready "$n"; then echo "Keycloak node $n: ready on 127.0.0.1:${KC_PORTS[$n - 1]}"; else echo "Keycloak node $n: stopped"; all=3; fi
  done
  if pg_running; then echo "PostgreSQL: running on 127.0.0.1:$PG_PORT"; else echo "PostgreSQL: stopped"; all=3; fi
  return $all
}

check_n() { # check_n VALUE MAX NAME
  case "$1" in ''|*[!0-9]*) die "$3 must be a number from 1 to $2, not '$1'" ;; esac
  [ "$1" -ge 1 ] && [ "$1" -le "$2" ] || die "$3 must be a number from 1 to $2, not '$1'"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  rolling-restart) rolling_restart ;;
  replica)
    check_n "${3:-}" 3 "the replica"
    case "${2:-}" in
      start) start_replica "$3" ;;
      stop) stop_pid "$(replica_pidfile "$3")" "replica $3" TERM ;;
      kill) stop_pid "$(replica_pidfile "$3")" "replica $3" KILL ;;
      *) die "replica start|stop|kill N" ;;
    esac ;;
  keycloak)
    check_n "${3:-}" 2 "the Keycloak node"
    case "${2:-}" in
      start) start_keycloak_node_in "$3" ;;
      stop) stop_keycloak_node "$3" ;;
      *) die "keycloak start|stop N" ;;
    esac ;;
  postgres)
    [ "${2:-}" = restart ] || die "postgres: the one command is 'postgres restart' (start and stop come with start and stop)"
    t0=$SECONDS
    as_pg "$PGBIN/pg_ctl" -D "$(pg_dir)/data" -l "$(pg_dir)/postgres.log" -m fast -w restart >/dev/null || die "pg_ctl restart failed"
    say "PostgreSQL restarted ($((SECONDS - t0)) s)" ;;
  reset)
    cmd_stop
    rm -rf "$PROD/keycloak" "$PROD/logs" "$PROD/pids" "$NGINX" "$(pg_dir)"
    say "removed the database and the Keycloak copies (the CA and secrets are kept)" ;;
  *) echo "usage: $0 start | stop | status | rolling-restart | replica start|stop|kill N | keycloak start|stop N | postgres restart | reset" >&2; exit 2 ;;
esac
