# Node image for the control plane and the mock LLM of the compose stack.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN node scripts/build.mjs
ENV NODE_ENV=production
EXPOSE 8080 9000
CMD ["npx", "tsx", "control-plane/src/server.ts"]
