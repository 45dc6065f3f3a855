#!/usr/bin/env bash
# Build the image and check that it starts: the container's own HEALTHCHECK must pass.
#
#   deploy/build-image.sh              # BASE_IMAGE defaults to the Dockerfile's (python:3.12-slim-bookworm)
#   BASE_IMAGE=localhost/crm-metrics-base:bookworm deploy/build-image.sh    # deploy/local-base.sh's
#
# Uses docker when its daemon answers, else podman. The container runs on the host's network
# against CHECK_DATABASE_URL (default: PostgreSQL at 127.0.0.1:5432, database test), which the
# server only reads; it listens on CHECK_PORT (default 3917). Exits non-zero, with the
# container's log, when the build fails or /health does not answer within 90 seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
tag="${IMAGE:-localhost/crm-metrics:dev}"
port="${CHECK_PORT:-3917}"
database_url="${CHECK_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/test}"
base_args=()
[ -n "${BASE_IMAGE:-}" ] && base_args=(--build-arg "BASE_IMAGE=$BASE_IMAGE")

if docker info >/dev/null 2>&1; then
    engine=(docker); limits=(); build_format=()
else
    # podman on a host whose cgroups are hybrid (v1 and v2) and which withholds
    # CAP_SYS_RESOURCE: crun refuses hybrid cgroups, and the default rlimits (raised above the
    # caller's hard limits) are refused; runc with limits under the caller's works.
    engine=(podman)
    if command -v runc >/dev/null && [ -d /sys/fs/cgroup/unified ]; then engine+=(--runtime runc); fi
    limits=(--ulimit "nofile=$(ulimit -Hn):$(ulimit -Hn)" --ulimit "nproc=4096:4096")
    # The OCI format has no HEALTHCHECK: podman drops it unless told to write Docker's.
    build_format=(--format docker)
fi

started=$(date +%s)
"${engine[@]}" build "${build_format[@]}" "${limits[@]}" "${base_args[@]}" -t "$tag" .
echo "built $tag in $(( $(date +%s) - started ))s: $("${engine[@]}" image inspect --format '{{.Size}}' "$tag") bytes"

name="crm-metrics-check-$$"
"${engine[@]}" run -d --name "$name" "${limits[@]}" --network host \
    -e PORT="$port" -e DATABASE_URL="$database_url" -e ENVIRONMENT=development "$tag" >/dev/null
trap '"${engine[@]}" rm -f "$name" >/dev/null 2>&1 || true' EXIT
echo "user in the container: $("${engine[@]}" exec "$name" id)"
healthy() {
    # The image's own HEALTHCHECK: podman runs it on demand; docker runs it on its interval.
    if [ "${engine[0]}" = podman ]; then "${engine[@]}" healthcheck run "$name" >/dev/null 2>&1
    else [ "$(docker inspect --format '{{.State.Health.Status}}' "$name")" = healthy ]; fi
}
for _ in $(seq 90); do
    if healthy; then
        echo "healthy $(( $(date +%s) - started ))s after the build began:"
        "${engine[@]}" exec "$name" python -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:$port/health').read().decode())"
        # SIGTERM as an orchestrator sends it: the server must exit 0 within its grace period.
        "${engine[@]}" stop -t 30 "$name" >/dev/null
        echo "stopped by SIGTERM, exit code $("${engine[@]}" inspect --format '{{.State.ExitCode}}' "$name")"
        exit 0
    fi
    sleep 1
done
echo "no healthy answer within 90 seconds; the container's log:" >&2
"${engine[@]}" logs "$name" >&2
exit 1
