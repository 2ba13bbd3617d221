# A local stand-in for the PostgreSQL image of examples/docker-compose.yml, made by
# scripts/check-image where no container registry answers: Debian bookworm (from
# debootstrap) with Debian's PostgreSQL 15 and an entry point that does what the official
# image's does for that example (POSTGRES_USER, POSTGRES_PASSWORD[_FILE], POSTGRES_DB,
# *.sql in /docker-entrypoint-initdb.d on the first start, password login over TCP,
# pg_isready). Not the official image (nor its PostgreSQL release).
ARG BASE=debian:bookworm
FROM ${BASE}
RUN mkdir -p /etc/postgresql-common \
    && echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.conf \
    && apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-15 \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /docker-entrypoint-initdb.d /var/lib/postgresql/data /var/run/postgresql \
    && chown postgres:postgres /var/lib/postgresql/data /var/run/postgresql \
    && chmod 0700 /var/lib/postgresql/data
ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PGDATA=/var/lib/postgresql/data \
    PGCLIENTENCODING=UTF8
COPY postgres-stand-in-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
VOLUME /var/lib/postgresql/data
EXPOSE 5432
STOPSIGNAL SIGINT
ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
CMD ["postgres"]
