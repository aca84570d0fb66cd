# syntax=docker/dockerfile:1

# The gateway as an image: `docker build -t data-management-gateway .`, then
# `docker run --rm -p 4000:4000 data-management-gateway` (demo mode with the embedded stand-in), or with
# `-e GITLAB_URL=https://gitlab.example.com` in front of a real GitLab. Settings: the environment variables in README.
# scripts/check-image-steps.sh replays these steps without a Docker engine (test/docker/image-steps.test.ts runs it).

# Build stage: all dependencies, TypeScript compiled to dist/, the monitor page built into dist/monitor-page/.
FROM node:26-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY web ./web
COPY scripts/build-monitor.ts ./scripts/
RUN npm run build

# Runtime stage: production dependencies and dist/ only, run as the image's non-root `node` user.
FROM node:26-bookworm-slim AS runtime
ENV NODE_ENV=production PORT=4000
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts/prune-production.mjs ./scripts/
# npm's cache lives in a BuildKit cache mount, so it is not left in the image. The prune takes out what Node never loads
# (TypeScript declarations, source maps, docs, packages' tests): half of node_modules.
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --no-audit --no-fund && npm run prune:production
COPY --from=build /app/dist ./dist
USER node
EXPOSE 4000
# Ready means the upstream GitLab answers (and, with a token to ask with, its API dialect is known). No curl in slim images: node asks.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||4000)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# node is PID 1 and handles SIGTERM itself (graceful shutdown within SHUTDOWN_TIMEOUT_MS). A young generation of up to
# 32 MB: a request's garbage dies there rather than being copied out of a small one (about 0.88x CPU per request).
CMD ["node", "--max-semi-space-size=32", "dist/main.js"]
