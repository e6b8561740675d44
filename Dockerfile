# The jobwait container image: the static binary that scripts/dist built, alone in an empty image.
#
#   scripts/dist && docker build -t jobwait .
#
# Multi-arch (the release workflow): `docker buildx build --platform linux/amd64,linux/arm64 .`
# after scripts/dist ran for x86_64 and aarch64, which leaves target/dist/linux-<arch>/jobwait.
# No build stage: the binary is the one the archives ship (and CI tests), not a second build.
#
# CA roots: the binary carries Mozilla's root certificates (webpki-roots, through reqwest's
# rustls-tls) besides the system's, so HTTPS works in this image with no bundle in it; for a
# private CA, mount its PEM file and set SSL_CERT_FILE to its path. Names are resolved by the
# binary's own resolver (hickory-dns) from /etc/resolv.conf and /etc/hosts, which Docker and
# Kubernetes mount into every container.
FROM scratch

ARG TARGETARCH=amd64
ARG VERSION=0.1.0

LABEL org.opencontainers.image.title="jobwait" \
      org.opencontainers.image.description="Wait on Huawei Cloud / Open Telekom Cloud / Flexible Engine jobs from a declarative spec" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/example/jobwait" \
      org.opencontainers.image.version="${VERSION}"

COPY target/dist/linux-${TARGETARCH}/jobwait /jobwait

# A numeric non-root user (the Kubernetes restricted profile's runAsNonRoot checks the number).
USER 65532:65532
ENTRYPOINT ["/jobwait"]
