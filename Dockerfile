# The Gridpresence programs (presence-service and meter-agent) in one image.
# Used by docker-compose.yml; not built in CI (these machines have no Docker engine).
FROM node:20-bookworm-slim AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src src
COPY meter-agent meter-agent
COPY presence-service presence-service
COPY scripts scripts
COPY types types
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY package.json ./
# The volumes for the agent's seq/outbox and the service's database mount here, owned by node.
RUN mkdir /data && chown node:node /data
USER node
ENTRYPOINT ["node"]
