# The templates-candidate resource image: /opt/resource/{check,in,out} on scratch.
#
# Why this shape: check, in and out are static Go programs (CGO_ENABLED=0), so
# the image needs nothing but them, a CA bundle for TLS to S3, and a writable
# /tmp. They are compiled outside the Dockerfile, by `make image-context`, into
# build/image/, laid out as the image's root filesystem:
#
#   build/image/opt/resource/{check,in,out}        static, stripped (-trimpath -ldflags "-s -w")
#   build/image/etc/ssl/certs/ca-certificates.crt  the build host's CA bundle
#   build/image/tmp/                               empty, mode 1777
#
# and this file copies that tree onto `scratch` in one layer (COPY keeps the
# modes, including /tmp's sticky 1777). No base image is pulled and no RUN step
# runs, so the same Dockerfile builds with a daemonless builder on a machine
# without any registry (buildah --isolation chroot, as `make image-test` does)
# and with docker, podman or buildkit in an ordinary image pipeline:
#
#   make image-context && docker build -t templates-candidate-resource:dev .
#   make image          # the same, with buildah, podman or docker (scripts/image.sh)
#
# The context is the repository root; .dockerignore sends only build/image/.
# Without `make image-context` first, the COPY fails (build/image not found).
FROM scratch
COPY build/image/ /
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    PATH=/opt/resource
LABEL org.opencontainers.image.title="templates-candidate-resource" \
      org.opencontainers.image.description="Concourse resource: BOSH templates candidates in S3 with promotion gates"
