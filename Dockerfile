# chainstorm container image: a release build in a Rust image, run as a
# non-root user on a slim Debian with CA certificates (for the webpki and
# system trust profiles against real endpoints).
#
#   docker build -t REGISTRY/chainstorm:0.1.0 .
#   docker push REGISTRY/chainstorm:0.1.0
#
# deploy/kubernetes/ expects the image name in its kustomization.yaml.

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# aws-lc-sys builds C with gcc; nothing else is needed.
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc g++ make \
    && rm -rf /var/lib/apt/lists/*
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY benches ./benches
COPY examples ./examples
RUN cargo build --release --locked --bin chainstorm

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin chainstorm
COPY --from=build /src/target/release/chainstorm /usr/local/bin/chainstorm
USER 10001:10001
# The PKI cache and results go to mounted volumes; HOME keeps the cache
# out of the read-only root filesystem.
ENV HOME=/tmp
ENTRYPOINT ["/usr/local/bin/chainstorm"]
CMD ["--help"]
