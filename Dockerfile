# Cordon service image. Runs the TypeScript sources directly with tsx (no build step for the
# service); the web console, when present, is built in the first stage.
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run --if-present build:web

FROM node:20-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/geo ./geo
COPY --from=build /app/streams ./streams
COPY --from=build /app/src ./src
COPY --from=build /app/web ./web
COPY --from=build /app/tsconfig.json ./
USER node
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/readyz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# One process (no npm/tsx wrapper) so SIGTERM reaches Cordon and it drains before exiting.
CMD ["node", "--import", "tsx", "src/main.ts"]
