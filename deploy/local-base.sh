#!/usr/bin/env bash
# A base image for the Dockerfile made from Debian's packages, for machines that reach a Debian
# mirror but no container registry (python:3.x-slim cannot be pulled):
#
#   deploy/local-base.sh [TAG]        # default TAG: localhost/crm-metrics-base:bookworm
#
# debootstrap --variant=minbase bookworm with python3 (3.11) and python3-venv, `python` linked
# to python3 as in the official image, this machine's CA bundle (a TLS-intercepting proxy's CA
# lets pip reach PyPI from a build step), imported with `podman import`. Needs root, about
# 5 minutes and 300 MB. Then: deploy/build-image.sh (or BASE_IMAGE=TAG make image).
set -euo pipefail
tag="${1:-localhost/crm-metrics-base:bookworm}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap >/dev/null
root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$root" "$mirror" >&2
ln -sf python3 "$root/usr/bin/python"
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | podman import --change 'CMD ["python3"]' - "$tag" >/dev/null
echo "$tag"
