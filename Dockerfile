# A small image of the weir binary.
#
#   docker build -t weir .
#   docker run -p 8080:8080 -p 9100:9100 weir
#
# Stage 1 builds with the Rust toolchain and OpenSSL's headers; stage 2 is
# Debian's slim image with only the OpenSSL runtime, the binary and the
# bundled site, run as an unprivileged user.
FROM rust:1-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libssl-dev pkg-config && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --bin weir

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libssl3 ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home weir
COPY --from=build /src/target/release/weir /usr/local/bin/weir
COPY --from=build /src/public /srv/www
USER weir
EXPOSE 8080 9100
# /healthz on the admin listener: alive. (Kubernetes uses /readyz too.)
HEALTHCHECK --interval=10s --timeout=2s --retries=3 CMD curl -fsS http://127.0.0.1:9100/healthz || exit 1
# Public site on every interface of the container; admin endpoints too,
# for the orchestrator's probes and Prometheus (publish 9100 privately).
ENTRYPOINT ["/usr/local/bin/weir", "--root", "/srv/www", "--listen", "0.0.0.0:8080", "--admin", "0.0.0.0:9100", "--no-builtin", "echo", "--no-builtin", "stats", "--no-builtin", "notes"]
