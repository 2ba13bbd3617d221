# A local stand-in for the runtime image (gcr.io/distroless/cc-debian12:nonroot), made by
# scripts/check-image where no container registry answers. Like distroless cc: the files
# of Debian 12's base-files, netbase, tzdata, libc6, libgcc-s1, libgomp1, libstdc++6 and
# libssl3, the CA bundle, the users root, nobody and nonroot (uid/gid 65532, home
# /home/nonroot), /tmp with mode 1777, no shell and no package manager; runs as 65532.
# Not the official image: its file list is only what those packages install.
ARG BASE=debian:bookworm
FROM ${BASE} AS files
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        base-files ca-certificates libc6 libgcc-s1 libgomp1 libssl3 libstdc++6 netbase tzdata \
    && rm -rf /var/lib/apt/lists/*
# Every file and link of those packages, with its directory resolved (merged /usr), so
# the copy never writes through a directory link.
RUN set -e; mkdir -p /out/usr/bin /out/usr/lib /out/usr/lib64 /out/usr/sbin; \
    for d in bin lib lib64 sbin; do ln -s "usr/$d" "/out/$d"; done; \
    for p in base-files libc6 libgcc-s1 libgomp1 libssl3 libstdc++6 netbase tzdata; do \
        dpkg -L "$p" | while read -r f; do \
            if [ -f "$f" ] || [ -L "$f" ]; then \
                dir="$(realpath "$(dirname "$f")")"; \
                mkdir -p "/out$dir"; cp -a "$dir/$(basename "$f")" "/out$dir/"; \
            fi; \
        done; \
    done; \
    rm -f /out/usr/bin/* /out/usr/sbin/*; \
    mkdir -p /out/etc/ssl/certs /out/tmp /out/home/nonroot /out/root; \
    cp /etc/ssl/certs/ca-certificates.crt /out/etc/ssl/certs/; \
    printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' 'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin' \
        'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' > /out/etc/passwd; \
    printf '%s\n' 'root:x:0:' 'nobody:x:65534:' 'tty:x:5:' 'staff:x:50:' 'nonroot:x:65532:' > /out/etc/group; \
    chmod 1777 /out/tmp; chmod 0700 /out/root /out/home/nonroot; chown 65532:65532 /out/home/nonroot

FROM scratch
COPY --from=files /out/ /
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
USER 65532:65532
WORKDIR /home/nonroot
