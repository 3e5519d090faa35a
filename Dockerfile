# logferry's container image: a Rust builder stage, then a small Debian runtime with
# only the binary, CA certificates and a non-root user (UID/GID 10001).
#
#   docker build -t logferry .
#   docker run --rm -v "$PWD/logferry.toml:/etc/logferry/logferry.toml:ro" logferry
#
# The config is read from /etc/logferry/logferry.toml (the default --config); the
# state dir defaults to /var/lib/logferry, owned by the image's user (mount a volume
# there to keep it across containers; it is a cache, rebuilt from the destination).

FROM rust:1.89-bookworm AS builder
WORKDIR /src
COPY . .
RUN cargo build --release --locked

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 logferry \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
        --home-dir /var/lib/logferry --shell /usr/sbin/nologin logferry \
    && install -d -o 10001 -g 10001 -m 0700 /var/lib/logferry \
    && install -d -m 0755 /etc/logferry
COPY --from=builder /src/target/release/logferry /usr/local/bin/logferry
USER 10001:10001
WORKDIR /var/lib/logferry
ENTRYPOINT ["logferry"]
CMD ["run"]
