# syntax=docker/dockerfile:1
# Tessera: build the TypeScript once, ship only dist/ and the production dependencies.
#   docker build -t tessera .
#   docker run -e DATABASE_URL=postgres://... -e SECRETS_KEY="$(openssl rand -base64 32)" -p 3000:3000 tessera
# Production mode needs SECRETS_KEY (it encrypts the signing keys at rest) and, in this image, DATABASE_URL.

ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# The curated GraphQL operation bundles (operations publish reads them):
COPY operations ./operations
# DATA_DIR (default ./.data) must be writable by the runtime user; it is only used without DATABASE_URL.
RUN mkdir -p /app/.data && chown node:node /app/.data
USER node
EXPOSE 3000
# /readyz answers 200 once the database answers; fetch is built into Node 20.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/main.js"]
