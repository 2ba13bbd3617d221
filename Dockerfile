# Container image of polyteia-db-connector (binary `connector`).
#
#   docker build -t polyteia-db-connector:0.1.0 --build-arg VERSION=0.1.0 .
#   docker run --rm --env-file connector.env polyteia-db-connector:0.1.0            # one cycle (run)
#   docker run -d -p 8080:8080 --env-file connector.env polyteia-db-connector:0.1.0 schedule
# (a database on the host's localhost: add --network host, see docs/deployment.md)
#
# Behind a TLS-inspecting proxy the build stages (curl, cargo, pip) must trust its CA:
#   docker build --build-arg BUILD_CA_CERTS="$(cat corp-ca.pem)" -t polyteia-db-connector:0.1.0 .
# The certificates are added to the build stages' CA store only, never to the image.
#
# Only Dockerfile instructions of the built-in frontend are used (no `# syntax=` line), so
# BuildKit needs no frontend image from a registry.
#
# Three stages:
#   build       compiles the release binary against DuckDB's official prebuilt
#               libduckdb.so v1.5.5 (scripts/fetch-duckdb: pinned tarball from the npm
#               registry, SHA-256 checked); the dependencies are built in their own
#               layer from the manifests only, so code changes do not rebuild them
#   extensions  fetches the DuckDB extensions (postgres, mysql, sqlite, odbc scanners and spatial)
#               for DuckDB v1.5.5 from their official PyPI wheels (SHA-256 pinned) with
#               scripts/fetch-extensions, so the image never downloads anything at run time
#   runtime     gcr.io/distroless/cc-debian12:nonroot (see the comment there)
#
# Image layout: /usr/local/bin/connector finds /usr/local/lib/polyteia-db-connector/libduckdb.so
# through its run-time search path ($ORIGIN/../lib/polyteia-db-connector), no
# LD_LIBRARY_PATH; /connector is a link to it (the entry point of earlier images).
#
# For reproducible production builds pin the base images by digest, e.g.
#   --build-arg RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot@sha256:<digest>

ARG RUST_IMAGE=rust:1.95-bookworm
ARG PYTHON_IMAGE=python:3.12-slim-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

# ---------------------------------------------------------------------------
FROM ${RUST_IMAGE} AS build
WORKDIR /src

# 0. A proxy CA for the downloads below (curl, cargo), when one is given.
ARG BUILD_CA_CERTS=""
ENV CARGO_HTTP_CAINFO=/etc/ssl/certs/ca-certificates.crt
RUN if [ -n "$BUILD_CA_CERTS" ]; then \
        printf '%s\n' "$BUILD_CA_CERTS" > /usr/local/share/ca-certificates/build-ca.crt \
        && update-ca-certificates >/dev/null; \
    fi

# 1. The prebuilt DuckDB library, then the dependencies only: built from the
#    manifests and an empty crate, cached until Cargo.toml/Cargo.lock change.
COPY DUCKDB_VERSION ./
COPY scripts/lib.sh scripts/fetch-duckdb ./scripts/
RUN CONNECTOR_CACHE_DIR=/tmp/connector-cache scripts/fetch-duckdb /src/.duckdb/lib \
    && rm -rf /tmp/connector-cache
COPY Cargo.toml Cargo.lock build.rs ./
COPY .cargo ./.cargo
RUN mkdir -p src \
    && printf 'fn main() {}\n' > src/main.rs \
    && : > src/lib.rs \
    && cargo build --release --locked \
    && cargo clean --release -p polyteia-db-connector \
    && rm -rf src

# 2. The connector itself, laid out as in the runtime image under /out.
COPY src ./src
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked \
    && strip target/release/connector \
    && install -D -m 0755 target/release/connector /out/usr/local/bin/connector \
    && install -D -m 0644 .duckdb/lib/libduckdb.so /out/usr/local/lib/polyteia-db-connector/libduckdb.so \
    && install -D -m 0644 .duckdb/lib/LICENSE /out/usr/local/share/doc/polyteia-db-connector/LICENSE.duckdb \
    && ln -s usr/local/bin/connector /out/connector \
    && /out/connector version

# ---------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS extensions
# scripts/fetch-extensions downloads duckdb-extension-{postgres,mysql,sqlite,odbc-scanner,spatial}==1.5.5
# (the release in the file DUCKDB_VERSION) with pip, checks each wheel's pinned SHA-256 and
# unpacks the signed extension binaries into <dir>/v1.5.5/<platform>/<name>_scanner.duckdb_extension
# (spatial: spatial.duckdb_extension).
# pip trusts the system CA store (not its own bundle), so a proxy CA given as
# BUILD_CA_CERTS is trusted as in the build stage.
ARG BUILD_CA_CERTS=""
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    CONNECTOR_CACHE_DIR=/tmp/connector-cache
RUN if [ -n "$BUILD_CA_CERTS" ]; then \
        printf '%s\n' "$BUILD_CA_CERTS" > /usr/local/share/ca-certificates/build-ca.crt \
        && update-ca-certificates >/dev/null; \
    fi
COPY DUCKDB_VERSION /src/
COPY scripts/lib.sh scripts/fetch-extensions /src/scripts/
RUN /src/scripts/fetch-extensions /opt/connector/extensions \
    && chmod -R a+rX,go-w /opt/connector/extensions \
    && rm -rf /tmp/connector-cache

# ---------------------------------------------------------------------------
# Runtime: gcr.io/distroless/cc-debian12 rather than debian:bookworm-slim because
#  - it has exactly what the binary needs: glibc 2.36 (the same Debian 12 release the
#    build stage links against), libstdc++6/libgcc-s1 (libduckdb.so is C++, and
#    the scanner extensions are loaded with dlopen and link against them),
#    CA certificates (/etc/ssl/certs, for TLS to Polyteia and to the databases) and tzdata;
#  - it has no shell, package manager or setuid binaries: much less to patch or exploit;
#  - the :nonroot tag already runs as uid/gid 65532 (user "nonroot"), which the Helm chart
#    and docker-compose example rely on, and /tmp exists (1777) for TEMP_DIR.
# For debugging use the :debug-nonroot tag (adds busybox) via --build-arg RUNTIME_IMAGE.
FROM ${RUNTIME_IMAGE} AS runtime

ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="polyteia-db-connector" \
      org.opencontainers.image.description="Runs one SQL query against PostgreSQL or MySQL/MariaDB through DuckDB, writes Parquet and uploads it to a Polyteia dataset" \
      org.opencontainers.image.source="https://github.com/polyteia/polyteia-db-connector" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"

COPY --from=build --chown=0:0 /out/ /
COPY --from=extensions --chown=0:0 /opt/connector/extensions /opt/connector/extensions

# Extensions are read-only and pre-installed: nothing is ever downloaded at run time.
# TEMP_DIR holds the Parquet file and DuckDB's spill files; mount a volume there
# (Kubernetes: emptyDir) when the root file system is read-only.
ENV DUCKDB_EXTENSION_DIRECTORY=/opt/connector/extensions \
    TEMP_DIR=/tmp

USER 65532:65532
# The working directory is read-only for 65532: no ./.env is picked up by accident, and
# nothing is written there.
WORKDIR /
# HEALTH_CHECK_PORT of `connector schedule` (GET /healthz, GET /metrics).
EXPOSE 8080

ENTRYPOINT ["/connector"]
CMD ["run"]
