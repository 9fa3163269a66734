#!/usr/bin/env bash
# Run a command with a private view of /etc and /usr/local: what it writes
# there lands in throwaway overlays under DIR, so integration tests can check
# persistence files (and the helpers in /usr/local/libexec) without touching
# this machine's own.
#   isolated-etc.sh DIR command [args...]
set -euo pipefail
if [[ ${1:-} == --inside ]]; then
    dir=$2
    shift 2
    mount -t overlay overlay -o "lowerdir=/etc,upperdir=$dir/upper,workdir=$dir/work" /etc
    mount -t overlay overlay -o "lowerdir=/usr/local,upperdir=$dir/local-upper,workdir=$dir/local-work" /usr/local
    exec "$@"
fi
dir=${1:?usage: isolated-etc.sh DIR command [args...]}
shift
mkdir -p "$dir/upper" "$dir/work" "$dir/local-upper" "$dir/local-work"
exec unshare --mount --propagation private -- "$0" --inside "$dir" "$@"
