# syntax=docker/dockerfile:1
# Tessera: build the TypeScript once, ship only dist/, operations/ and the production dependencies.
#   docker build -t tessera .
#   docker run -e DATABASE_URL=postgres://... -e SECRETS_KEY="$(openssl rand -base64 32)" -p 3000:3000 tessera
#   docker exec <container> tessera bootstrap --tenant acme --name "Acme Corp" --admin-email admin@acme.example
# Production mode needs SECRETS_KEY (it encrypts the signing keys at rest) and, in this image, DATABASE_URL: the
# embedded PostgreSQL (a development dependency) is not installed here.
# There is no Docker engine in CI: .ci/image-steps runs these same steps in temporary folders (a full install and
# the build, then the production install with dist/ and operations/) and runs the server and every CLI command
# from the result, on Node 20 and on Node 24. Change both together.

ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# tsc, then dist/cli/index.js made executable (the tessera bin).
RUN npm run build

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000
WORKDIR /app
COPY package.json package-lock.json ./
# Development dependencies are left out: tsx, the test tools and the embedded PostgreSQL.
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# The curated GraphQL operation bundles: the CLI reads operations/ from the current folder, WORKDIR here.
COPY operations ./operations
# The operator CLI on PATH: `docker compose exec api tessera <command>`. npm links a package's bins only for its
# dependents, so the link is made here; the shebang runs it with this image's node.
RUN ln -s /app/dist/cli/index.js /usr/local/bin/tessera
# DATA_DIR (default ./.data) holds only a generated development secrets key (NODE_ENV=development without
# SECRETS_KEY); it must be writable by the runtime user for that.
RUN mkdir -p /app/.data && chown node:node /app/.data
USER node
EXPOSE 3000
# /readyz answers 200 once the database answers. A ROLE=worker process serves no HTTP: docker-compose.yml turns
# this check off for it.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/main.js"]
