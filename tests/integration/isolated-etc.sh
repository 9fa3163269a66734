#!/usr/bin/env bash
# Run a command with a private view of /etc: what it writes there lands in a
# throwaway overlay under DIR, so integration tests can check persistence
# files without touching this machine's own /etc.
#   isolated-etc.sh DIR command [args...]
set -euo pipefail
if [[ ${1:-} == --inside ]]; then
    dir=$2
    shift 2
    mount -t overlay overlay -o "lowerdir=/etc,upperdir=$dir/upper,workdir=$dir/work" /etc
    exec "$@"
fi
dir=${1:?usage: isolated-etc.sh DIR command [args...]}
shift
mkdir -p "$dir/upper" "$dir/work"
exec unshare --mount --propagation private -- "$0" --inside "$dir" "$@"
