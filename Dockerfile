# senseye-agent as a container. Invariants (test/unit/container-files.test.ts checks them
# against the code's defaults, test/integration/container-entrypoint.test.ts runs the entrypoint
# the same way: as an unprivileged user with only the state volume writable;
# test/container/container.test.ts builds the image and runs it on a Docker engine):
#   - the final image holds the compiled agent and its production dependencies only: no
#     compiler, no dev dependencies, no package manager;
#   - it runs as a fixed non-root user (10001) that can write /var/lib/senseye-agent and
#     nothing else the agent needs;
#   - config at /etc/senseye-agent/config.yaml (mount it); the token from the secret
#     /run/secrets/senseye-token (the agent looks there when no other token is configured);
#   - SIGTERM stops it gracefully within shutdown_timeout (10 s): give `docker stop` /
#     compose `stop_grace_period` more than that (30 s).
#
# Build: docker build -t senseye-agent .      Run: see "Run in a container" in README.md.
# Behind a TLS-inspecting proxy, give npm the proxy's CA as the BuildKit secret `build-ca`
# (DOCKER_BUILDKIT=1 docker build --secret id=build-ca,src=/path/to/proxy-ca.pem ...): the
# npm ci steps trust it through NODE_EXTRA_CA_CERTS; the file is mounted for those steps
# only and nothing of it stays in any layer. Without the secret nothing changes.

ARG NODE_IMAGE=node:20-bookworm-slim

# --- build: TypeScript to dist/, then the one-file bundle bin/senseye-agent runs (dist/bundle/,
# scripts/bundle.js), with dev dependencies. Neither tsc nor esbuild (its binary is an optional
# dependency) needs an install script, so they are skipped here (better-sqlite3 is compiled
# once, in prod-deps).
# `npm ls` after each `npm ci`: npm 10 can exit 0 from an install that failed half-way ("Exit
# handler never called", e.g. on a TLS error), and BuildKit would cache that half-empty
# node_modules (a secret is not part of the cache key: a later build with build-ca would reuse
# it). `npm ls` fails on any package missing; the lockfile's own tsc is called, never `npx tsc`
# (which would download the unrelated registry package "tsc").
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN --mount=type=secret,id=build-ca \
    if [ -s /run/secrets/build-ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/build-ca; fi \
 && npm ci --ignore-scripts --no-audit --no-fund \
 && npm ls --all >/dev/null
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY scripts ./scripts
RUN ./node_modules/.bin/tsc -p tsconfig.build.json && node scripts/bundle.js

# --- prod-deps: exactly the lockfile's production dependencies. better-sqlite3 is built here
# (a prebuilt binary when one downloads, else compiled: hence python3, make, g++ in this stage
# only); --ignore-scripts keeps the root package's `prepare` (tsc) from running without tsc.
FROM ${NODE_IMAGE} AS prod-deps
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
# Node's own headers ship in the image: node-gyp need not download them.
ENV npm_config_nodedir=/usr/local
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=secret,id=build-ca \
    if [ -s /run/secrets/build-ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/build-ca; fi \
 && npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm ls --all --omit=dev >/dev/null \
 && npm rebuild better-sqlite3 \
 && node -e "new (require('better-sqlite3'))(':memory:').prepare('select 1').get()" \
 && find node_modules/better-sqlite3/build -mindepth 1 -maxdepth 1 ! -name Release -exec rm -rf {} + \
 && find node_modules/better-sqlite3/build/Release -mindepth 1 -maxdepth 1 ! -name better_sqlite3.node -exec rm -rf {} + \
 && rm -rf node_modules/better-sqlite3/deps node_modules/better-sqlite3/src \
 && find node_modules -mindepth 1 -maxdepth 1 -type d -empty -delete

# --- the image.
FROM ${NODE_IMAGE}
# No package manager at run time: the image runs one program.
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
      /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
      /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-* \
 && groupadd --system --gid 10001 senseye \
 && useradd --system --uid 10001 --gid senseye --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin senseye \
 && mkdir -p /var/lib/senseye-agent /etc/senseye-agent \
 && chown senseye:senseye /var/lib/senseye-agent \
 && chmod 0700 /var/lib/senseye-agent
WORKDIR /app
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
COPY bin ./bin
# For reference; mount your own /etc/senseye-agent/config.yaml.
COPY config.example.yaml /etc/senseye-agent/config.example.yaml
# config.example.yaml reads state_dir from ${SENSEYE_STATE_DIR}.
ENV NODE_ENV=production \
    SENSEYE_STATE_DIR=/var/lib/senseye-agent
USER 10001:10001
VOLUME ["/var/lib/senseye-agent"]
# /healthz, /readyz, /metrics (set http.listen: 0.0.0.0:9464 in the config to reach it from outside).
EXPOSE 9464
STOPSIGNAL SIGTERM
# Liveness only (/healthz): a paused delivery is for alerts (/readyz, metrics), not restarts.
# It probes the config's http.listen (0.0.0.0 / :: on loopback; null: endpoint off, passes),
# reading the config at the CMD's path below; if you run with another --config, set
# SENSEYE_CONFIG to that path too (or SENSEYE_HEALTHCHECK_URL to the URL).
HEALTHCHECK --interval=30s --timeout=5s --start-period=2m --retries=3 \
  CMD ["node", "/app/dist/observability/healthcheck.js"]
ENTRYPOINT ["node", "/app/bin/senseye-agent"]
CMD ["run", "--config", "/etc/senseye-agent/config.yaml"]
