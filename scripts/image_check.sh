#!/usr/bin/env bash
# make image-check: build the production image without Docker and run it as its pods run.
#
#  1. A base image from Debian's own packages, since no container registry is reachable:
#     `debootstrap --variant=minbase` bookworm with python3, venv, pip, passwd and CA
#     certificates, `python` linked to python3, committed with buildah. It is cached in
#     $CACHE_DIR (${XDG_CACHE_HOME:-~/.cache}/valossa-ingest) under a tag that hashes its recipe;
#     IMAGE_CHECK_REBUILD_BASE=1 makes it again (e.g. for Debian's security updates).
#  2. The image from the repository's Dockerfile as it is, with buildah (`--storage-driver vfs
#     --isolation chroot`, no daemon) and `--build-arg PYTHON_IMAGE=<that base>`.
#  3. The image's size, its layers and the size of its virtualenv.
#  4. The image run as uid 10001 on a read-only root filesystem with a tmpfs on /tmp (as the
#     chart runs it) against throw-away peers (scripts/image_check_peers.py: a database made for
#     this run, the Valossa emulator, a sample video): `migrate`; `serve` (/readyz 200, a
#     POST /v1/analyses accepted with 202); `worker` (its /readyz 200); the analysis finished and
#     its metadata served; SIGTERM stops both with exit 0; the optional extras are absent.
#
# Needs root (debootstrap, chroot, mounts) and installs buildah, debootstrap, curl and jq from
# Debian's packages when missing. Any failure ends it non-zero with a line "image check FAILED:".
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE_DIR="${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/valossa-ingest"
STORE=(--root "$CACHE_DIR/containers/storage" --runroot "$CACHE_DIR/containers/run"
  --storage-driver vfs)
IMAGE=localhost/valossa-ingest:image-check
BASE_SUITE=bookworm
BASE_PACKAGES=python3,python3-venv,python3-pip,passwd,ca-certificates
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
PY=.venv/bin/python
RUN_AS=10001:10001
API_TOKEN=image-check-token
STARTED=$SECONDS

fail() {
  echo "image check FAILED: $*" >&2
  exit 1
}
step() { echo "== [$((SECONDS - STARTED))s] $*"; }
bah() { buildah "${STORE[@]}" "$@"; }

[[ $EUID -eq 0 ]] || fail "run as root: debootstrap, chroot and mounts need it"
[[ -x $PY ]] || fail "no $PY: run 'make install' first (the peers need the [dev] extra)"
missing=()
for tool in buildah debootstrap curl jq; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if ((${#missing[@]})); then
  step "installing ${missing[*]} from Debian's packages"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } \
    >/dev/null || fail "could not install ${missing[*]} with apt-get"
fi

mkdir -p "$CACHE_DIR"
exec 9>"$CACHE_DIR/image-check.lock"
flock -n 9 || {
  echo "waiting for another image check on this machine to finish ..."
  flock 9
}
WORK=$(mktemp -d "$CACHE_DIR/run.XXXXXX")
CTR=""
ROOTFS=""
READ_ONLY=""
PEERS_PID=""
SERVE_PID=""
WORKER_PID=""
cleanup() {
  local status=$?
  set +e
  for pid in $SERVE_PID $WORKER_PID; do
    kill -KILL "$(app_process "$pid")" "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  [[ -n $READ_ONLY ]] && umount --recursive "$ROOTFS"
  [[ -n $CTR ]] && bah rm "$CTR" >/dev/null
  if [[ -n $PEERS_PID ]]; then
    exec {peers_in}>&- # end-of-file: the peers drop the database and stop
    wait "$PEERS_PID"
  fi
  rm -rf "$WORK"
  if ((status == 0)); then
    echo "== image check passed in $((SECONDS - STARTED))s"
  fi
  exit "$status"
}
# The process buildah started, innermost in its tree; signals go to it, not to buildah.
app_process() {
  local pid=$1 child
  while child=$(pgrep -P "$pid" | head -n 1) && [[ -n $child ]]; do pid=$child; done
  echo "$pid"
}
trap cleanup EXIT

# ---- 1. the base image --------------------------------------------------------------------
recipe="debootstrap --variant=minbase --include=$BASE_PACKAGES $BASE_SUITE $DEBIAN_MIRROR; python->python3"
BASE_IMAGE="localhost/valossa-ingest-base:$BASE_SUITE-$(printf %s "$recipe" | sha256sum | cut -c1-12)"
if [[ -z ${IMAGE_CHECK_REBUILD_BASE:-} ]] && bah inspect --type image "$BASE_IMAGE" >/dev/null 2>&1; then
  step "base image $BASE_IMAGE (cached in $CACHE_DIR)"
else
  step "building the base image $BASE_IMAGE: $recipe"
  rootfs="$WORK/rootfs"
  debootstrap --variant=minbase --include="$BASE_PACKAGES" "$BASE_SUITE" "$rootfs" \
    "$DEBIAN_MIRROR" >"$WORK/debootstrap.log" 2>&1 ||
    { tail -n 20 "$WORK/debootstrap.log" >&2; fail "debootstrap of $BASE_SUITE failed"; }
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  ln -sf python3 "$rootfs/usr/bin/python"
  tar --numeric-owner -C "$rootfs" -cf "$WORK/rootfs.tar" .
  rm -rf "$rootfs"
  ctr=$(bah from scratch)
  bah add "$ctr" "$WORK/rootfs.tar" / >/dev/null
  bah config --created-by "$recipe" --cmd '["python3"]' \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$ctr"
  bah commit --quiet --rm "$ctr" "$BASE_IMAGE" >/dev/null || fail "could not commit the base image"
  rm -f "$WORK/rootfs.tar"
fi

# ---- 2. the image from the Dockerfile ------------------------------------------------------
# Where PyPI is reached through a TLS-inspecting proxy (as on our machines), only the machine's
# CA bundle trusts it: lend that bundle to the RUN steps (bound over the image's own during each
# step; nothing of it is committed).
ca_volume=()
if [[ -f /etc/ssl/certs/ca-certificates.crt ]]; then
  ca_volume=(--volume /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro)
fi
step "building $IMAGE from the Dockerfile (buildah bud --isolation chroot --layers)"
bah bud --isolation chroot --layers --pull=never --build-arg "PYTHON_IMAGE=$BASE_IMAGE" \
  "${ca_volume[@]}" --tag "$IMAGE" --file Dockerfile . >"$WORK/build.log" 2>&1 ||
  { tail -n 25 "$WORK/build.log" >&2; fail "buildah could not build the Dockerfile (log above)"; }
# Intermediate layers are full copies with the vfs driver: keep only the tagged images.
bah rmi --prune >/dev/null 2>&1 || true

# ---- 3. sizes ------------------------------------------------------------------------------
bah inspect --type image "$IMAGE" >"$WORK/image.json"
step "image $IMAGE: $(jq '[.Manifest | fromjson | .layers[].size] | add' "$WORK/image.json" |
  numfmt --to=iec --suffix=B) uncompressed, layers:"
jq -r '(.Manifest | fromjson | .layers | map(.size)) as $sizes
  | [.OCIv1.history[] | select(.empty_layer | not) | .created_by] as $by
  | range(0; $sizes | length) | "\($sizes[.])\t\($by[.] // "" | sub("^/bin/sh -c (#\\(nop\\) )?"; "") | .[0:90])"' \
  "$WORK/image.json" | numfmt --to=iec --suffix=B --field=1 --padding=8 | sed 's/^/     /'
entrypoint=()
while IFS= read -r word; do entrypoint+=("$word"); done < <(jq -r '.OCIv1.config.Entrypoint[]' "$WORK/image.json")
user=$(jq -r '.OCIv1.config.User // ""' "$WORK/image.json")
[[ $user == "$RUN_AS" ]] || fail "the image's USER is '$user', expected $RUN_AS"
((${#entrypoint[@]})) || fail "the image has no ENTRYPOINT"

# ---- 4. run it -----------------------------------------------------------------------------
CTR=$(bah from --pull=never --name "vi-image-check-$$" "$IMAGE")
ROOTFS=$(bah mount "$CTR")
step "virtualenv /opt/venv in the image: $(du -sk "$ROOTFS/opt/venv" | cut -f1) KiB"
# A read-only root as readOnlyRootFilesystem gives: / bound read-only, a tmpfs on /tmp. buildah
# bind-mounts these files into the container, so they must exist first, and it writes and
# removes /run/.containerenv as root: /run stays as the image has it (root's, 0755: not writable
# by uid 10001 either).
mkdir -p "$ROOTFS/run"
touch "$ROOTFS/run/.containerenv" "$ROOTFS/etc/hosts" "$ROOTFS/etc/resolv.conf" "$ROOTFS/etc/hostname"
if mount --bind "$ROOTFS" "$ROOTFS"; then
  READ_ONLY=1
  if mount --bind "$ROOTFS/run" "$ROOTFS/run" && mount -o remount,bind,ro "$ROOTFS"; then
    step "running as uid ${RUN_AS%%:*} on a read-only root filesystem, tmpfs on /tmp"
  else
    echo "   the container's root cannot be remounted read-only here: it runs writable"
  fi
fi

# The peers live until their stdin ends: when this script exits, however it exits.
mkfifo "$WORK/peers.in"
"$PY" scripts/image_check_peers.py <"$WORK/peers.in" >"$WORK/peers.json" 2>"$WORK/peers.log" 9>&- &
PEERS_PID=$!
exec {peers_in}>"$WORK/peers.in"
deadline=$((SECONDS + 120))
until peers=$(head -n 1 "$WORK/peers.json") && [[ -n $peers ]]; do
  if ! kill -0 "$PEERS_PID" 2>/dev/null || ((SECONDS >= deadline)); then
    cat "$WORK/peers.log" >&2
    fail "the peers (database, emulator) did not start"
  fi
  sleep 1
done
step "$(grep -m 1 '^peers:' "$WORK/peers.log" || echo "peers: started")"
peer() { jq -r ".$1" <<<"$peers"; }
free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
API_PORT=$(free_port)
HEALTH_PORT=$(free_port)
API="http://127.0.0.1:$API_PORT"
run_env=(
  -e "DATABASE_URL=$(peer database_url)"
  -e "VALOSSA_BASE_URL=$(peer valossa_base_url)"
  -e "VALOSSA_API_KEY=$(peer valossa_api_key)"
  -e "PUBLIC_BASE_URL=$API"
  -e "INGEST_API_TOKENS=$API_TOKEN"
  -e "CALLBACK_SIGNING_SECRET=image-check-$RANDOM$RANDOM"
  -e TICK_INTERVAL_S=1 -e POLL_MIN_INTERVAL_S=1 -e POLL_MAX_INTERVAL_S=5
  -e "READYZ_URL=$API/readyz" -e READYZ_TIMEOUT_S=10 # for the chart's helm test check
)
in_image() {
  bah run --isolation chroot --user "$RUN_AS" --mount type=tmpfs,destination=/tmp \
    "${run_env[@]}" "$CTR" -- "$@" 9>&- {peers_in}>&-
}
show_log() { echo "---- $1 (last lines)" >&2; tail -n 40 "$WORK/$1.log" >&2; }

if [[ $(findmnt -no OPTIONS "$ROOTFS") == ro,* ]]; then
  in_image python -c 'open("/opt/venv/probe", "w")' >"$WORK/probe.log" 2>&1 &&
    fail "the container could write to /opt/venv: its root filesystem is not read-only"
  grep -q "Read-only file system" "$WORK/probe.log" || { show_log probe; fail "unexpected write error"; }
fi

for extra in emulator dev; do
  status=0
  in_image "${entrypoint[@]}" "$extra" >"$WORK/$extra.log" 2>&1 || status=$?
  # buildah adds "subprocess exited with status 2" and "Error: exit status 2" lines of its own.
  if ((status != 2)) || [[ $(grep -cv "exit.* status 2$" "$WORK/$extra.log") -ne 1 ]] ||
    ! grep -q "valossa-ingest\[$extra\]" "$WORK/$extra.log"; then
    show_log "$extra"
    fail "'valossa-ingest $extra' must exit 2 with one line naming [$extra] (it exited $status)"
  fi
done
step "optional extras absent: 'emulator' and 'dev' exit 2 naming the extra to install"

step "migrate"
in_image "${entrypoint[@]}" migrate >"$WORK/migrate.log" 2>&1 || { show_log migrate; fail "migrate failed"; }

wait_ready() { # name url buildah-pid
  local deadline=$((SECONDS + 90))
  until [[ $(curl -s -o /dev/null -w '%{http_code}' "$2") == 200 ]]; do
    kill -0 "$3" 2>/dev/null || { show_log "$1"; fail "$1 exited before $2 answered 200"; }
    ((SECONDS < deadline)) || { show_log "$1"; fail "$2 did not answer 200 within 90 s"; }
    sleep 1
  done
  local uid
  uid=$(ps -o uid= -p "$(app_process "$3")" | tr -d ' ')
  [[ $uid == "${RUN_AS%%:*}" ]] || fail "$1 runs as uid $uid, not ${RUN_AS%%:*}"
  step "$1: $2 answered 200 (process uid $uid)"
}
stop_gracefully() { # name buildah-pid
  local status=0
  kill -TERM "$(app_process "$2")"
  wait "$2" || status=$?
  if ((status == 0)); then
    step "$1 stopped by SIGTERM with exit 0"
  # uvicorn re-raises the SIGTERM it handled once its shutdown is complete (exit 143 in a pod).
  elif grep -q "subprocess exited on terminated" "$WORK/$1.log" &&
    grep -q "Application shutdown complete" "$WORK/$1.log"; then
    step "$1 stopped by SIGTERM: shutdown complete, then ended by the re-raised SIGTERM"
  else
    show_log "$1"
    fail "$1 did not shut down cleanly on SIGTERM (buildah run exited $status)"
  fi
}

in_image "${entrypoint[@]}" serve --host 127.0.0.1 --port "$API_PORT" >"$WORK/serve.log" 2>&1 &
SERVE_PID=$!
wait_ready serve "$API/readyz" "$SERVE_PID"
# `helm test` runs the chart's check in this image: its Python must run it as it is.
in_image python -c "$(cat helm/valossa-ingest/files/readyz_check.py)" >"$WORK/helm-test.log" 2>&1 ||
  { show_log helm-test; fail "the chart's helm test failed in the image"; }
step "helm test: the chart's readyz check passes in the image"
media_id="image-check-$$"
code=$(curl -s -o "$WORK/created.json" -w '%{http_code}' -X POST "$API/v1/analyses" \
  -H "Authorization: Bearer $API_TOKEN" -H 'Content-Type: application/json' \
  -d "{\"customer_media_id\": \"$media_id\", \"video_url\": \"$(peer video_url)\"}")
[[ $code == 202 ]] || { cat "$WORK/created.json" >&2; fail "POST /v1/analyses answered $code, not 202"; }
analysis=$(jq -r .id "$WORK/created.json")
step "serve: POST /v1/analyses accepted (202), analysis $analysis"

in_image "${entrypoint[@]}" worker --health-port "$HEALTH_PORT" >"$WORK/worker.log" 2>&1 &
WORKER_PID=$!
wait_ready worker "http://127.0.0.1:$HEALTH_PORT/readyz" "$WORKER_PID"

deadline=$((SECONDS + 120))
while status=$(curl -s "$API/v1/analyses/$analysis" -H "Authorization: Bearer $API_TOKEN" | jq -r .status) &&
  [[ $status != finished ]]; do
  [[ $status != failed && $status != canceled ]] || { show_log worker; fail "the analysis ended $status"; }
  ((SECONDS < deadline)) || { show_log worker; fail "the analysis is still $status after 120 s"; }
  sleep 1
done
code=$(curl -s -o "$WORK/core.json" -w '%{http_code}' "$API/v1/media/$media_id/metadata?type=core" \
  -H "Authorization: Bearer $API_TOKEN")
if [[ $code != 200 ]] || ! jq -e .version_info "$WORK/core.json" >/dev/null; then
  fail "GET /v1/media/$media_id/metadata?type=core answered $code without Valossa core metadata"
fi
step "worker: the analysis finished at the emulator; serve returns its core metadata ($(wc -c <"$WORK/core.json") bytes)"

stop_gracefully worker "$WORKER_PID"
WORKER_PID=""
stop_gracefully serve "$SERVE_PID"
SERVE_PID=""
