# A local stand-in for the Rust image the Dockerfile builds with (rust:<version>-bookworm),
# made by scripts/check-image where no container registry answers: Debian bookworm (from
# debootstrap) with the C toolchain the build needs and the Rust toolchain of the machine
# that runs the check, laid out as in the official image (RUSTUP_HOME, CARGO_HOME, PATH).
# Not the official image: only good enough to build the connector the same way.
ARG BASE=debian:bookworm
FROM ${BASE}
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        ca-certificates curl gcc libc6-dev make pkg-config \
    && rm -rf /var/lib/apt/lists/*
ENV RUSTUP_HOME=/usr/local/rustup \
    CARGO_HOME=/usr/local/cargo \
    PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# The build context is the toolchain's sysroot (bin/, lib/, without the documentation).
COPY . /usr/local/rustup/toolchains/stand-in/
RUN mkdir -p /usr/local/cargo/bin \
    && ln -s /usr/local/rustup/toolchains/stand-in/bin/* /usr/local/cargo/bin/ \
    && cargo --version && rustc --version
