# syntax=docker/dockerfile:1
# The SLMOps operator image: compiled JavaScript and the production dependencies of @slmops/operator only, on
# distroless Node.js 20 (glibc, no shell), running as uid 65532. Build from the repository root:
#   docker buildx build -f images/operator.Dockerfile --platform linux/amd64,linux/arm64 -t ghcr.io/slmops/operator:0.1.0 .
# No native modules: the operator never imports onnxruntime-node or gRPC (checked in the deps stage).

ARG NODE_IMAGE=node:20-bookworm-slim
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs20-debian12:nonroot

# --- build: TypeScript -> dist/. The output is platform-independent, so this stage runs on BUILDPLATFORM once.
FROM --platform=$BUILDPLATFORM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json nx.json tsconfig.base.json tsconfig.json ./
COPY packages/ packages/
COPY tests/ tests/
COPY bench/ bench/
RUN npm ci --no-audit --no-fund --ignore-scripts
RUN npx nx run-many -t build -p @slmops/operator --outputStyle=static
# Every workspace package.json (npm ci must see the same workspaces as the lock file), nothing else.
RUN mkdir /manifests && find . -name package.json -not -path '*/node_modules/*' | xargs cp --parents -t /manifests

# --- deps: `npm ci --omit=dev` for this one workspace; workspace packages become symlinks into packages/.
FROM --platform=$BUILDPLATFORM ${NODE_IMAGE} AS deps
ARG TARGETARCH
WORKDIR /app
COPY --from=build /manifests/ ./
COPY package-lock.json ./
# --omit=optional as well: the lock marks vitest/vite (an optional peer of plugin-sdk) devOptional, which
# --omit=dev alone keeps; the only optional packages in the lock are that toolchain's platform binaries.
RUN npm ci --no-audit --no-fund --omit=dev --omit=optional --ignore-scripts --workspace @slmops/operator
# The architecture rule "the operator never imports onnxruntime-node or gRPC" holds for the image too.
RUN if [ -e node_modules/onnxruntime-node ] || [ -e node_modules/@grpc/grpc-js ]; then echo "onnxruntime-node or gRPC leaked into the operator image" >&2; exit 1; fi

# --- runtime
FROM ${RUNTIME_IMAGE}
ARG TARGETPLATFORM
LABEL org.opencontainers.image.source="https://github.com/slmops/slmops" \
      org.opencontainers.image.title="slmops-operator" \
      org.opencontainers.image.licenses="Apache-2.0"
WORKDIR /app
ENV NODE_ENV=production
# node_modules plus the nested packages/*/node_modules npm placed beside some workspaces (e.g. yaml 2.9.1).
COPY --from=deps /app/ ./
COPY --from=build /src/packages/api/dist/ packages/api/dist/
COPY --from=build /src/packages/kube/dist/ packages/kube/dist/
COPY --from=build /src/packages/metrics/dist/ packages/metrics/dist/
COPY --from=build /src/packages/plugin-sdk/dist/ packages/plugin-sdk/dist/
COPY --from=build /src/packages/plugins/cpu/dist/ packages/plugins/cpu/dist/
COPY --from=build /src/packages/plugins/nvidia/dist/ packages/plugins/nvidia/dist/
COPY --from=build /src/packages/plugins/jetson/dist/ packages/plugins/jetson/dist/
COPY --from=build /src/packages/plugins/intel/dist/ packages/plugins/intel/dist/
COPY --from=build /src/packages/plugins/amd/dist/ packages/plugins/amd/dist/
COPY --from=build /src/packages/plugins/qualcomm/dist/ packages/plugins/qualcomm/dist/
COPY --from=build /src/packages/operator/dist/ packages/operator/dist/
COPY --from=build /src/packages/operator/bin/ packages/operator/bin/
USER 65532:65532
EXPOSE 8080 8081
ENTRYPOINT ["/nodejs/bin/node", "/app/packages/operator/bin/slmops-operator.js"]
