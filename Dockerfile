# syntax=docker/dockerfile:1

# The gateway as an image: `docker build -t data-management-gateway .`, then
# `docker run --rm -p 4000:4000 data-management-gateway` (demo mode with the embedded stand-in), or with
# `-e GITLAB_URL=https://gitlab.example.com` in front of a real GitLab. Settings: the environment variables in README.
# scripts/check-image-steps.sh replays these steps without a Docker engine (test/docker/image-steps.test.ts runs it).

# Build stage: all dependencies; the gateway bundled into dist/main.js with every runtime dependency inside it, GraphiQL's
# assets and the monitor page beside it (scripts/build.ts).
FROM node:26-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY web ./web
COPY scripts/build.ts scripts/build-monitor.ts ./scripts/
RUN npm run build

# Runtime stage: dist/ only (no node_modules: the bundle holds what it runs), and package.json for its "type": "module";
# run as the image's non-root `node` user.
FROM node:26-bookworm-slim AS runtime
ENV NODE_ENV=production PORT=4000
WORKDIR /app
COPY package.json ./
COPY --from=build /app/dist ./dist
USER node
EXPOSE 4000
# Ready means the upstream GitLab answers (and, with a token to ask with, its API dialect is known). No curl in slim images: node asks.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||4000)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# node is PID 1 and handles SIGTERM itself (graceful shutdown within SHUTDOWN_TIMEOUT_MS). A young generation of up to
# 32 MB: a request's garbage dies there rather than being copied out of a small one (about 0.88x CPU per request).
CMD ["node", "--max-semi-space-size=32", "dist/main.js"]
