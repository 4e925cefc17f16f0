# syntax=docker/dockerfile:1
# The SLMOps sidecar image: compiled JavaScript and the production dependencies of @slmops/sidecar only, on
# distroless Node.js 20 (glibc, no shell), running as uid 65532. Build from the repository root:
#   docker buildx build -f images/sidecar.Dockerfile --platform linux/amd64,linux/arm64 -t ghcr.io/slmops/sidecar:0.1.0 .
# The only image with onnxruntime-node: its npm package ships prebuilt CPU binaries for every platform,
# and the deps stage keeps only linux/<TARGETARCH> (x64 or arm64), so one build serves both architectures.

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
RUN npx nx run-many -t build -p @slmops/sidecar --outputStyle=static
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
RUN npm ci --no-audit --no-fund --omit=dev --omit=optional --ignore-scripts --workspace @slmops/sidecar
# onnxruntime-node ships binaries for darwin, win32 and linux x64/arm64; keep the target's (saves ~250 MB).
RUN ORT_ARCH="$(case "$TARGETARCH" in amd64) echo x64;; arm64) echo arm64;; *) echo "unsupported TARGETARCH $TARGETARCH" >&2; exit 1;; esac)" \
 && cd node_modules/onnxruntime-node/bin/napi-v6 \
 && rm -rf darwin win32 && find linux -mindepth 1 -maxdepth 1 ! -name "$ORT_ARCH" -exec rm -rf {} + \
 && test -f "linux/$ORT_ARCH/onnxruntime_binding.node"

# --- runtime
FROM ${RUNTIME_IMAGE}
ARG TARGETPLATFORM
LABEL org.opencontainers.image.source="https://github.com/slmops/slmops" \
      org.opencontainers.image.title="slmops-sidecar" \
      org.opencontainers.image.licenses="Apache-2.0"
WORKDIR /app
# MALLOC_MMAP_THRESHOLD_: glibc serves blocks of 128 KiB and more (KV caches, ONNX Runtime outputs) with mmap, so
# memory a load peak freed goes back to the system instead of staying in the heap (docs/BENCHMARKS.md, sidecar RSS).
ENV NODE_ENV=production MALLOC_MMAP_THRESHOLD_=131072
# node_modules plus the nested packages/*/node_modules npm placed beside some workspaces (e.g. yaml 2.9.1).
COPY --from=deps /app/ ./
COPY --from=build /src/packages/api/dist/ packages/api/dist/
COPY --from=build /src/packages/model/dist/ packages/model/dist/
COPY --from=build /src/packages/engine/dist/ packages/engine/dist/
# The engine's worker-thread entry (the sidecar runs the engine on a worker thread; ADR 0007).
COPY --from=build /src/packages/engine/worker/ packages/engine/worker/
COPY --from=build /src/packages/metrics/dist/ packages/metrics/dist/
COPY --from=build /src/packages/plugin-sdk/dist/ packages/plugin-sdk/dist/
COPY --from=build /src/packages/plugins/cpu/dist/ packages/plugins/cpu/dist/
COPY --from=build /src/packages/plugins/nvidia/dist/ packages/plugins/nvidia/dist/
COPY --from=build /src/packages/plugins/jetson/dist/ packages/plugins/jetson/dist/
COPY --from=build /src/packages/plugins/intel/dist/ packages/plugins/intel/dist/
COPY --from=build /src/packages/plugins/amd/dist/ packages/plugins/amd/dist/
COPY --from=build /src/packages/plugins/qualcomm/dist/ packages/plugins/qualcomm/dist/
COPY --from=build /src/packages/sidecar/dist/ packages/sidecar/dist/
COPY --from=build /src/packages/sidecar/bin/ packages/sidecar/bin/
# The sidecar loads its .proto files at run time from <repo>/protos (packages/sidecar/dist/grpc/../../../../protos).
COPY protos/ protos/
USER 65532:65532
EXPOSE 50051 9464
ENTRYPOINT ["/nodejs/bin/node", "/app/packages/sidecar/bin/slmops-sidecar.js"]
