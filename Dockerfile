# Lendwork's container image: one `lendwork` binary (gateway, matcher,
# serve, tools), built in a Rust image, run as a non-root user in a slim
# Debian image. The Helm chart (helm/lendwork) points at it.
#
#   docker build -t ghcr.io/lendwork/lendwork:0.1.0 .
FROM rust:1.95-bookworm AS build
WORKDIR /src
# librdkafka is built from source by rdkafka-sys (its own configure script):
# a C toolchain, zlib, and OpenSSL for the `tls` feature (SSL, SASL_SSL,
# SCRAM to managed clusters).
RUN apt-get update && apt-get install -y --no-install-recommends \
      build-essential python3 libssl-dev zlib1g-dev \
    && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cargo build --release --locked -p lendwork --bin lendwork --features tls \
    && strip target/release/lendwork

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates libssl3 zlib1g \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 lendwork && useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin lendwork
COPY --from=build /src/target/release/lendwork /usr/local/bin/lendwork
USER 10001:10001
EXPOSE 8080 9464
ENTRYPOINT ["/usr/local/bin/lendwork"]
CMD ["serve", "--demo", "--listen", "0.0.0.0:8080"]
