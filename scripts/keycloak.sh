#!/usr/bin/env bash
# Real Keycloak for steps 9-11, without Docker. DEMO ONLY: dev mode, plain HTTP, loopback.
#
#   scripts/keycloak.sh start [--fresh|--keep]  install if needed, start, wait until the realm answers
#   scripts/keycloak.sh stop                    stop the Keycloak this script started (its PID only)
#   scripts/keycloak.sh status                  running or stopped; exit 0 if running, 3 if not
#   scripts/keycloak.sh install                 only install (download and unpack) if needed
#   scripts/keycloak.sh dist                    print the installation's directory (installed or not)
#   scripts/keycloak.sh java                    print the JAVA_HOME it runs Keycloak with (below)
#
# Install: Keycloak $KEYCLOAK_VERSION (pinned below, the same as env/keycloak/docker-compose.yml)
# comes from Maven Central as org.keycloak:keycloak-quarkus-dist:<version>:tar.gz, fetched with
# `mvn dependency:copy`, and is unpacked once into .keycloak/ at the repository root
# (git-ignored). A later run downloads nothing: it checks for the unpacked directory first.
#
# Java: Keycloak 26.7 supports OpenJDK 17, 21 and 25 (both 17 and 25 were tried with 26.7.3).
# $KEYCLOAK_JAVA_HOME if set (refused if it is another version), else the first installed JDK
# of those versions (25, 21, 17 under ${KEYCLOAK_JVM_DIR:-/usr/lib/jvm}, then JAVA_HOME, then
# `java` on PATH), passed to kc.sh as JAVA_HOME. No supported Java: exit 1 naming what is missing.
#
# Start: `kc.sh start-dev --import-realm` on 127.0.0.1:${KEYCLOAK_PORT:-8080} with the realm
# env/keycloak/mcp-realm.json (copied into the distribution's data/import/), the features the
# tutorial uses ($KEYCLOAK_FEATURES) and the bootstrap admin from KC_BOOTSTRAP_ADMIN_USERNAME /
# KC_BOOTSTRAP_ADMIN_PASSWORD (default admin/admin, demo only). By default every start is
# FRESH: the dev-file H2 database under .keycloak/keycloak-<version>/data/h2 is deleted first,
# so an edited realm file is always imported again and no registered client or session
# survives a restart. `start --keep` keeps the database (Keycloak then skips the import of a
# realm that already exists), e.g. for tests that restart Keycloak and expect the same keys.
# Waits (deadline $KEYCLOAK_START_TIMEOUT, default 180 s) for the realm's discovery document,
# prints the version that answered and the start-up time. Logs go to .keycloak/keycloak.log,
# the PID to .keycloak/keycloak.pid. Already running and answering: says so, exits 0.
#
# Features (experimental in 26.7.3): cimd, which the realm file needs (its client profile uses the
# client-id-metadata-document executor; without the feature Keycloak refuses to start: "Failed to
# update client profiles"), and resource-indicators (RFC 8707: a resource parameter equal to
# echo-mcp-server's resource_url, http://localhost:9000/mcp, makes that URI the only aud; any
# other value is invalid_target). Known 26.7.3 bugs with resource-indicators, both HTTP 500
# "unknown_error" at the token endpoint when a resource is sent: a client that gets no refresh
# token (keycloak#50251), and a token without any aud (keycloak#49077). Changing the features
# makes the next start re-augment Quarkus (about 30 s more), as does the first start.
#
# Environment: KEYCLOAK_PORT (8080), KEYCLOAK_MGMT_PORT (9000 is the MCP server's port, so the
# management interface defaults to 9876 here), KEYCLOAK_START_TIMEOUT (180),
# KEYCLOAK_FEATURES (cimd,resource-indicators), KEYCLOAK_JAVA_HOME, KEYCLOAK_JVM_DIR
# (/usr/lib/jvm), KEYCLOAK_HOME_DIR (.keycloak), KEYCLOAK_REALM_FILE.
set -euo pipefail

KEYCLOAK_VERSION=26.7.3
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BASE="${KEYCLOAK_HOME_DIR:-$ROOT/.keycloak}"
DIST="$BASE/keycloak-$KEYCLOAK_VERSION"
PIDFILE="$BASE/keycloak.pid"
LOG="$BASE/keycloak.log"
PORT="${KEYCLOAK_PORT:-8080}"
MGMT_PORT="${KEYCLOAK_MGMT_PORT:-9876}"
REALM="mcp-realm"
REALM_FILE="${KEYCLOAK_REALM_FILE:-$ROOT/env/keycloak/mcp-realm.json}"
TIMEOUT="${KEYCLOAK_START_TIMEOUT:-180}"
URL="http://localhost:$PORT"
DISCOVERY="$URL/realms/$REALM/.well-known/openid-configuration"
# See "Features" above.
FEATURES="${KEYCLOAK_FEATURES:-cimd,resource-indicators}"

die() { echo "keycloak.sh: $*" >&2; exit 1; }

install_keycloak() {
  [ -x "$DIST/bin/kc.sh" ] && return 0
  command -v mvn >/dev/null || die "Keycloak $KEYCLOAK_VERSION is not installed in $DIST and mvn (Maven) is missing to fetch it"
  mkdir -p "$BASE/download"
  local archive="$BASE/download/keycloak-quarkus-dist-$KEYCLOAK_VERSION.tar.gz" t0=$SECONDS
  if [ ! -s "$archive" ]; then
    echo "downloading org.keycloak:keycloak-quarkus-dist:$KEYCLOAK_VERSION:tar.gz from Maven Central"
    mvn -q -B -Dstyle.color=never dependency:copy \
      -Dartifact="org.keycloak:keycloak-quarkus-dist:$KEYCLOAK_VERSION:tar.gz" \
      -DoutputDirectory="$BASE/download" -Dmdep.overWriteReleases=false \
      || die "mvn dependency:copy of org.keycloak:keycloak-quarkus-dist:$KEYCLOAK_VERSION:tar.gz failed"
  fi
  echo "unpacking into $DIST"
  rm -rf "$DIST.partial"
  mkdir -p "$DIST.partial"
  tar -xzf "$archive" -C "$DIST.partial" --strip-components=1 || die "could not unpack $archive"
  mv "$DIST.partial" "$DIST"
  # Maven's local repository (~/.m2) keeps the archive; no second copy here.
  rm -f "$archive"
  echo "installed Keycloak $KEYCLOAK_VERSION in $((SECONDS - t0)) s"
}

# java_major JAVA_BIN: prints the feature version (17, 21, 25) of that java, or nothing.
java_major() {
  "$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = \([0-9]*\).*/\1/p' | head -n 1
}

pick_java() {
  local candidates=() c major jvm_dir="${KEYCLOAK_JVM_DIR:-/usr/lib/jvm}"
  if [ -n "${KEYCLOAK_JAVA_HOME:-}" ]; then
    [ -x "$KEYCLOAK_JAVA_HOME/bin/java" ] || die "KEYCLOAK_JAVA_HOME=$KEYCLOAK_JAVA_HOME has no bin/java"
    major="$(java_major "$KEYCLOAK_JAVA_HOME/bin/java")"
    case "$major" in
      17|21|25) echo "$KEYCLOAK_JAVA_HOME"; return 0 ;;
      *) die "KEYCLOAK_JAVA_HOME=$KEYCLOAK_JAVA_HOME is Java ${major:-of unknown version}; Keycloak $KEYCLOAK_VERSION supports OpenJDK 17, 21 or 25" ;;
    esac
  fi
  for v in 25 21 17; do
    for c in "$jvm_dir"/*-"$v"-* "$jvm_dir"/*-"$v"; do
      [ -x "$c/bin/java" ] && candidates+=("$c")
    done
  done
  [ -n "${JAVA_HOME:-}" ] && candidates+=("$JAVA_HOME")
  if command -v java >/dev/null; then
    candidates+=("$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")")
  fi
  for c in "${candidates[@]}"; do
    [ -x "$c/bin/java" ] || continue
    major="$(java_major "$c/bin/java")"
    case "$major" in
      17|21|25) echo "$c"; return 0 ;;
    esac
  done
  die "no supported Java for Keycloak $KEYCLOAK_VERSION: it needs OpenJDK 17, 21 or 25, and none was found (KEYCLOAK_JAVA_HOME, $jvm_dir, JAVA_HOME, java on PATH); install one, e.g. apt-get install openjdk-17-jre-headless"
}

# pid_alive: the PID in $PIDFILE is alive and is still this installation's kc.sh, or the java
# that kc.sh replaced itself with (it execs java again after a re-augmentation, i.e. on the first
# start of a new installation), not a recycled PID of another program.
pid_alive() {
  [ -f "$PIDFILE" ] || return 1
  local pid cmd
  pid="$(cat "$PIDFILE")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
  case "$cmd" in
    *"$DIST/bin/kc.sh"* | *"-Dkc.home.dir=$DIST/bin/.."*) return 0 ;;
    *) return 1 ;;
  esac
}

# group_alive PID: some process of the process group PID (kc.sh and its java) is alive.
group_alive() {
  kill -0 -- "-$1" 2>/dev/null
}

answering() {
  curl -fsS --max-time 3 -o /dev/null "$DISCOVERY" 2>/dev/null
}

# server_version: the version the running server reports (its admin console's resources path
# and the welcome page carry it; the log line "Keycloak X started" is the fallback).
server_version() {
  local v
  v="$(sed -n 's/.*Keycloak \([0-9][0-9.]*[^ ]*\) on JVM.*started.*/\1/p' "$LOG" 2>/dev/null | tail -n 1)"
  echo "${v:-unknown}"
}

cmd_start() {
  local keep=0
  for a in "$@"; do
    case "$a" in
      --keep) keep=1 ;;
      --fresh) keep=0 ;;
      *) die "unknown option for start: $a (use --keep or --fresh)" ;;
    esac
  done
  if pid_alive && answering; then
    echo "Keycloak $(server_version) is already running (pid $(cat "$PIDFILE")) at $URL"
    return 0
  fi
  if pid_alive; then
    die "a Keycloak started by this script (pid $(cat "$PIDFILE")) is alive but not answering at $DISCOVERY; run '$0 stop' first"
  fi
  rm -f "$PIDFILE"
  if curl -sS --max-time 2 -o /dev/null "$URL/" 2>/dev/null; then
    die "something else already answers on port $PORT (not started by this script); set KEYCLOAK_PORT or stop it"
  fi
  [ -f "$REALM_FILE" ] || die "realm file $REALM_FILE is missing"
  jq -e . "$REALM_FILE" >/dev/null 2>&1 || die "realm file $REALM_FILE is not valid JSON"
  local java_home
  java_home="$(pick_java)"   # before the download: no point fetching 170 MB without a Java
  install_keycloak
  mkdir -p "$DIST/data/import"
  rm -f "$DIST/data/import/"*.json
  cp "$REALM_FILE" "$DIST/data/import/$REALM-realm.json"
  if [ "$keep" = 0 ]; then
    rm -rf "$DIST/data/h2" "$DIST/data/transaction-logs"
  fi
  echo "starting Keycloak $KEYCLOAK_VERSION (Java $(java_major "$java_home/bin/java") at $java_home, features: $FEATURES, $([ "$keep" = 1 ] && echo "database kept" || echo "fresh database"))"
  local t0=$SECONDS pid
  # setsid: its own process group, so that stop can signal exactly what this script started.
  JAVA_HOME="$java_home" \
  KC_BOOTSTRAP_ADMIN_USERNAME="${KC_BOOTSTRAP_ADMIN_USERNAME:-admin}" \
  KC_BOOTSTRAP_ADMIN_PASSWORD="${KC_BOOTSTRAP_ADMIN_PASSWORD:-admin}" \
    setsid "$DIST/bin/kc.sh" start-dev --import-realm \
      --http-host=127.0.0.1 --http-port="$PORT" \
      --http-management-port="$MGMT_PORT" --health-enabled=true \
      --features="$FEATURES" \
      >"$LOG" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$PIDFILE"
  local deadline=$((SECONDS + TIMEOUT))
  while [ $SECONDS -lt $deadline ]; do
    if answering; then
      echo "Keycloak $(server_version) answered at $URL after $((SECONDS - t0)) s (pid $pid, log $LOG)"
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$PIDFILE"
      echo "keycloak.sh: Keycloak exited during start-up; last lines of $LOG:" >&2
      grep -E 'ERROR|FATAL|Exception|error' "$LOG" | tail -n 15 >&2 || true
      tail -n 20 "$LOG" >&2
      exit 1
    fi
    sleep 1
  done
  echo "keycloak.sh: Keycloak did not serve $DISCOVERY within $TIMEOUT s; last lines of $LOG:" >&2
  tail -n 30 "$LOG" >&2
  cmd_stop >&2 || true
  exit 1
}

cmd_stop() {
  if [ ! -f "$PIDFILE" ]; then
    echo "Keycloak is not running (no $PIDFILE)"
    return 0
  fi
  local pid
  pid="$(cat "$PIDFILE")"
  if ! pid_alive; then
    echo "Keycloak (pid $pid) had already exited"
    rm -f "$PIDFILE"
    return 0
  fi
  # $pid is kc.sh (or the java it exec'd), started by setsid as the leader of its own process
  # group; kc.sh forwards SIGTERM to its java child and waits for it. Only that group is signalled.
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 30))
  while group_alive "$pid" && [ $SECONDS -lt $deadline ]; do sleep 0.5; done
  if group_alive "$pid"; then
    echo "Keycloak (pid $pid) did not stop within 30 s of SIGTERM; sending SIGKILL to its process group"
    kill -KILL -- "-$pid" 2>/dev/null || true
    sleep 1
  fi
  rm -f "$PIDFILE"
  echo "Keycloak (pid $pid) stopped"
}

cmd_status() {
  if pid_alive && answering; then
    echo "running: Keycloak $(server_version) at $URL (pid $(cat "$PIDFILE"), realm $REALM, log $LOG)"
    return 0
  fi
  if pid_alive; then
    echo "starting or unhealthy: pid $(cat "$PIDFILE") is alive but $DISCOVERY does not answer"
    return 3
  fi
  echo "stopped (Keycloak $KEYCLOAK_VERSION, $([ -x "$DIST/bin/kc.sh" ] && echo "installed in $DIST" || echo "not installed yet"))"
  return 3
}

case "${1:-}" in
  start) shift; cmd_start "$@" ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  install) install_keycloak; echo "Keycloak $KEYCLOAK_VERSION in $DIST (Java: $(pick_java))" ;;
  dist) echo "$DIST" ;;
  java) pick_java ;;
  *) echo "usage: $0 start [--fresh|--keep] | stop | status | install | dist | java" >&2; exit 2 ;;
esac
