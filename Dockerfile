# syntax=docker/dockerfile:1
#
# couponbridge: Gameball's coupon API in front, Voucherify behind.
#
# Build (BuildKit is needed for the cache mounts; it is the default builder
# in current Docker):
#   docker build --build-arg COUPONBRIDGE_COMMIT="$(git rev-parse --short=12 HEAD)" -t couponbridge .
#
# Run:
#   docker run -d --name couponbridge \
#     -p 8080:8080 -p 127.0.0.1:9901:9901 \
#     -v "$PWD/config/couponbridge.toml:/etc/couponbridge/couponbridge.toml:ro" \
#     -e COUPONBRIDGE_TENANTS__SHOP__SECRET_KEY \
#     -e COUPONBRIDGE_TENANTS__SHOP__VOUCHERIFY__APP_TOKEN \
#     -e COUPONBRIDGE_STORE__URL \
#     couponbridge
#   (`-e NAME` without a value copies the variable from your shell, so the
#   secret stays out of the command line; `--env-file` works too.)
#
# Configuration: the TOML file is mounted at /etc/couponbridge/couponbridge.toml
# (read-only is fine; it must be readable by uid 10001). The image contains no
# configuration and no secrets. The container runs
#   couponbridge serve --config /etc/couponbridge/couponbridge.toml
# and a missing file is an error (exit status 2). Check a file first with
#   docker run --rm -v ...:/etc/couponbridge/couponbridge.toml:ro couponbridge \
#     check-config --config /etc/couponbridge/couponbridge.toml
#
# Secrets come from the environment. Any key can be set as COUPONBRIDGE_
# followed by its path with `__` between levels; environment beats the file:
#   COUPONBRIDGE_TENANTS__<NAME>__SECRET_KEY               Gameball secret key of tenant <NAME>
#   COUPONBRIDGE_TENANTS__<NAME>__VOUCHERIFY__APP_TOKEN    Voucherify app token of tenant <NAME>
#   COUPONBRIDGE_STORE__URL     e.g. redis://redis:6379/0, or rediss://:PASSWORD@host:6380/0
#   COUPONBRIDGE_RECORD__HASH_KEY                          key for hashed redactions in recordings
# Other useful ones: COUPONBRIDGE_LOG__FORMAT=json, RUST_LOG.
#
# Ports:
#   8080  the Gameball-side listener (merchant traffic).
#   9901  the admin listener: /livez, /readyz, /metrics. The image sets it to
#         0.0.0.0:9901 (the program's default is 127.0.0.1:9901) so that
#         Kubernetes probes and Prometheus can reach it; do not publish it to
#         the internet. Liveness: GET /livez; readiness: GET /readyz (503
#         while the lock store is unreachable and during shutdown).
#
# Shutdown: SIGTERM makes /readyz answer 503, then drains in-flight requests
# (server.shutdown_delay + server.shutdown_grace, 15s by default); keep the
# orchestrator's grace period (docker stop -t, terminationGracePeriodSeconds)
# above that sum.

# ---------------------------------------------------------------------------
# Build stage
# ---------------------------------------------------------------------------
FROM rust:1.93-bookworm AS build
WORKDIR /src

# Dependencies first, against stub sources, so that this layer (the slow part
# of the build: ~290 crates with fat LTO) is reused while only src/ changes.
# The other targets in Cargo.toml (tests/it/main.rs, benches/) are never
# compiled by `--bin couponbridge`, and cargo does not require their files to
# exist as every one names its path, so tests/ and benches/ are not copied
# (deploy/check.sh loads the manifest the same way).
COPY Cargo.toml Cargo.lock ./
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    mkdir -p src \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && cargo build --profile dist --locked --bin couponbridge \
    && rm -rf src

# The real sources. touch: COPY keeps the files' original mtimes, which may be
# older than the stub build, and cargo decides staleness by mtime.
# build.rs names the commit for `couponbridge --version` and
# couponbridge_build_info; the build context has no .git, so pass it:
#   docker build --build-arg COUPONBRIDGE_COMMIT="$(git rev-parse --short=12 HEAD)" .
COPY build.rs ./
COPY src ./src
ARG COUPONBRIDGE_COMMIT=unknown
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    touch src/main.rs src/lib.rs \
    && COUPONBRIDGE_COMMIT="$COUPONBRIDGE_COMMIT" cargo build --profile dist --locked --bin couponbridge

# ---------------------------------------------------------------------------
# Runtime stage
# ---------------------------------------------------------------------------
FROM debian:bookworm-slim

LABEL org.opencontainers.image.title="couponbridge" \
      org.opencontainers.image.description="Gameball coupon API in, Voucherify validation sessions out: a reverse-proxy compatibility adapter" \
      org.opencontainers.image.licenses="MIT"

# ca-certificates: the OS trust store, for upstream_tls.roots = "native" and
# extra tooling; "webpki" roots are compiled into the binary.
# /var/lib/couponbridge: a writable home for record.path, if recording is on.
# DL3008 (pin apt versions) is ignored on purpose: bookworm drops the old
# version of a package when it ships a security fix, so a pin breaks builds.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 couponbridge \
    && useradd --system --uid 10001 --gid couponbridge \
        --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin couponbridge \
    && mkdir -p /etc/couponbridge /var/lib/couponbridge \
    && chown couponbridge:couponbridge /var/lib/couponbridge

COPY --from=build /src/target/dist/couponbridge /usr/local/bin/couponbridge

# Listen on all interfaces inside the container (see the header).
ENV COUPONBRIDGE_SERVER__LISTEN=0.0.0.0:8080 \
    COUPONBRIDGE_ADMIN__LISTEN=0.0.0.0:9901

EXPOSE 8080 9901

# Numeric, so Kubernetes' runAsNonRoot can verify it.
USER 10001:10001

# No curl in the image: bash's /dev/tcp sends GET /livez to the admin port
# (taken from COUPONBRIDGE_ADMIN__LISTEN) and checks the status line.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD ["bash", "-c", "a=${COUPONBRIDGE_ADMIN__LISTEN:-:9901} && exec 3<>\"/dev/tcp/127.0.0.1/${a##*:}\" && printf 'GET /livez HTTP/1.0\\r\\n\\r\\n' >&3 && read -r _ code _ <&3 && [ \"$code\" = 200 ]"]

# couponbridge drains on SIGTERM (Docker's default; stated for clarity).
STOPSIGNAL SIGTERM

ENTRYPOINT ["couponbridge"]
CMD ["serve", "--config", "/etc/couponbridge/couponbridge.toml"]
