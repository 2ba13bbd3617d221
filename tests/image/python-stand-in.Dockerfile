# A local stand-in for the Python image the Dockerfile fetches the extensions with
# (python:<version>-slim-bookworm), made by scripts/check-image where no container
# registry answers: Debian bookworm (from debootstrap) with Debian's python3 and pip.
# Not the official image (its Python is Debian's 3.11): scripts/fetch-extensions only
# needs `python3 -m pip download` and the CA store.
ARG BASE=debian:bookworm
FROM ${BASE}
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        ca-certificates python3 python3-pip \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m pip --version
CMD ["python3"]
