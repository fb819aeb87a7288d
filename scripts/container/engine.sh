#!/usr/bin/env bash
# A Docker engine for building and testing the image, on machines where none runs (CI, a
# developer's box with only Debian's docker.io package installed). `start` uses an engine that
# already answers (DOCKER_HOST, else the default socket); otherwise it starts its own dockerd
# with everything under one folder (data, exec root, socket, pidfile, log) and no changes to
# the host's network (no iptables rules, no bridge: containers use --network host or none).
# `stop` stops that dockerd only if this script started it; an engine it found running is left
# alone.
#
# Usage: scripts/container/engine.sh start|stop|status
#   start prints, one per line, shell assignments for the caller:
#     DOCKER=<client>  DOCKER_HOST=<socket URL>  ENGINE_STARTED=0|1
#   and exits non-zero with the reason on stderr when no engine can run here.
# Env: SENSEYE_DOCKER_DIR (default /var/tmp/senseye-docker), DOCKER (client to use).
set -uo pipefail

DIR=${SENSEYE_DOCKER_DIR:-/var/tmp/senseye-docker}
SOCK="unix://$DIR/docker.sock"
PIDFILE="$DIR/dockerd.pid"
OURS="$DIR/started-by-engine.sh"     # holds the pid of the dockerd this script started
LOG="$DIR/dockerd.log"

# The client: Debian's docker.io (20.10) builds with BuildKit built in (DOCKER_BUILDKIT=1); a
# newer client without the buildx plugin cannot, so prefer it when both are installed.
pick_client() {
  if [ -n "${DOCKER:-}" ]; then echo "$DOCKER"; return; fi
  if [ -x /usr/bin/docker ]; then echo /usr/bin/docker; return; fi
  command -v docker || true
}
CLIENT=$(pick_client)

answers() { [ -n "$CLIENT" ] && DOCKER_HOST="$1" timeout 10 "$CLIENT" version --format '{{.Server.Version}}' >/dev/null 2>&1; }

report() { printf 'DOCKER=%s\nDOCKER_HOST=%s\nENGINE_STARTED=%s\n' "$CLIENT" "$1" "$2"; }

ours_running() {
  [ -f "$OURS" ] && [ -f "$PIDFILE" ] && [ "$(cat "$OURS")" = "$(cat "$PIDFILE")" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null
}

start() {
  [ -n "$CLIENT" ] || { echo "engine: no docker client installed (apt-get install docker.io)" >&2; return 1; }
  # An engine that already answers: the caller's, the system's, or ours from an earlier start.
  for host in ${DOCKER_HOST:-} unix:///var/run/docker.sock "$SOCK"; do
    if answers "$host"; then
      report "$host" 0
      return 0
    fi
  done
  command -v dockerd >/dev/null || { echo "engine: no engine answers and dockerd is not installed (apt-get install docker.io)" >&2; return 1; }
  [ "$(id -u)" -eq 0 ] || { echo "engine: no engine answers and starting dockerd needs root" >&2; return 1; }
  mkdir -p "$DIR"
  # One starter at a time; the loser of a race finds the winner's engine answering.
  exec 9>"$DIR/start.lock"
  flock 9
  if answers "$SOCK"; then report "$SOCK" 0; return 0; fi
  rm -f "$DIR/docker.sock" "$PIDFILE" "$OURS"
  setsid dockerd --iptables=false --ip6tables=false --bridge=none \
    --data-root "$DIR/data" --exec-root "$DIR/exec" --pidfile "$PIDFILE" \
    -H "$SOCK" >"$LOG" 2>&1 </dev/null 9>&- &
  local pid=$!
  echo "$pid" >"$OURS"
  for _ in $(seq 1 120); do
    if answers "$SOCK"; then report "$SOCK" 1; return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "engine: dockerd exited while starting; last lines of $LOG:" >&2
      tail -n 15 "$LOG" >&2
      rm -f "$OURS"
      return 1
    fi
    sleep 0.5
  done
  echo "engine: dockerd did not answer on $SOCK within 60 s; stopping it. Last lines of $LOG:" >&2
  tail -n 15 "$LOG" >&2
  kill -TERM "$pid" 2>/dev/null
  rm -f "$OURS"
  return 1
}

stop() {
  if ! ours_running; then
    echo "engine: no dockerd started by this script is running; nothing to stop" >&2
    rm -f "$OURS"
    return 0
  fi
  local pid
  pid=$(cat "$PIDFILE")
  kill -TERM "$pid"
  # dockerd stops its containers (their own stop timeouts) before it exits.
  for _ in $(seq 1 120); do
    if ! kill -0 "$pid" 2>/dev/null; then
      # dockerd leaves its host network namespace bound here; nothing else uses it.
      umount "$DIR/exec/netns/default" 2>/dev/null || true
      rm -f "$OURS"
      echo "engine: stopped dockerd $pid" >&2
      return 0
    fi
    sleep 0.5
  done
  echo "engine: dockerd $pid still running 60 s after SIGTERM" >&2
  return 1
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) if ours_running; then echo "running (started by engine.sh, pid $(cat "$PIDFILE"))"; elif answers "${DOCKER_HOST:-unix:///var/run/docker.sock}"; then echo "running (not ours)"; else echo "not running"; fi ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
