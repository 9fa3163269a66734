#!/usr/bin/env bash
# The VM lab: a datacenter VM and an edge VM on QEMU (software emulation),
# and a hub network namespace both reach over a bridge; the edge VM's data
# link is a WAN (netem in its kernel). Idempotent; `down` leaves nothing.
#
#   lab.sh up        build the image if needed, boot both VMs, wait for SSH
#   lab.sh down      stop the VMs, remove taps, the hub namespace and overlays
#   lab.sh restart ROLE   power-cycle one VM (kill -9, as a power loss) and boot it again on its own disks
#   lab.sh status    what is running
#   lab.sh report    what the last failed `up` saw: build log or boot console (kept after down)
#
# Hosts: datacenter = 127.0.0.1:2221, edge = 127.0.0.1:2222 (SSH), data network
# 10.77.0.0/24: hub 10.77.0.1 (namespace hostperf-hub), edge .2, datacenter .3.
# The hub runs the benchmark peers: iperf3 servers on 5201 (edge) and 5202
# (datacenter), one each so both hosts can measure at once.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${HOSTPERF_LAB_CACHE:-/var/cache/hostperf-lab}
RUN=${HOSTPERF_LAB_RUN:-/run/hostperf-lab}
HUB=hostperf-hub
declare -A PORT=([datacenter]=2221 [edge]=2222)
declare -A TAP=([datacenter]=hp-dc0 [edge]=hp-edge0)
declare -A MAC=([datacenter]=52:54:00:77:00:03 [edge]=52:54:00:77:00:02)
declare -A DATA_DISK=([datacenter]=nvme.img [edge]=hdd.img)
IPERF_PORTS=(5201 5202)

log() { echo "lab: $*" >&2; }

machine_args() {
    local role=$1 dir=$2
    case $role in
    datacenter)
        echo -machine q35 -smp 4,sockets=2,cores=2,threads=1 -m 1536 \
            -object memory-backend-ram,id=m0,size=768M -object memory-backend-ram,id=m1,size=768M \
            -numa node,nodeid=0,cpus=0-1,memdev=m0 -numa node,nodeid=1,cpus=2-3,memdev=m1 \
            -device virtio-blk-pci,drive=root,bus=pcie.0,bootindex=0 \
            -device virtio-net-pci,netdev=mgmt,bus=pcie.0 \
            -netdev "tap,id=data,ifname=${TAP[$role]},script=no,downscript=no,queues=2,vhost=off" \
            -device "virtio-net-pci,netdev=data,mq=on,vectors=6,mac=${MAC[$role]},bus=pcie.0" \
            -device pxb-pcie,id=pxb1,bus_nr=128,numa_node=1,bus=pcie.0 \
            -device pcie-root-port,id=rp1,bus=pxb1,chassis=1 -device pcie-root-port,id=rp2,bus=pxb1,chassis=2 \
            -drive "if=none,id=nvm,file=$dir/nvme.img,format=raw" -device nvme,drive=nvm,serial=hostperf-nvme1,bus=rp1 \
            -netdev user,id=ext -device e1000e,netdev=ext,bus=rp2
        ;;
    edge)
        echo -machine pc -smp 1 -m 768 \
            -device virtio-blk-pci,drive=root -device virtio-net-pci,netdev=mgmt \
            -drive "if=none,id=hdd,file=$dir/hdd.img,format=raw" -device ide-hd,drive=hdd,rotation_rate=7200 \
            -netdev "tap,id=data,ifname=${TAP[$role]},script=no,downscript=no" \
            -device "e1000e,netdev=data,mac=${MAC[$role]}"
        ;;
    esac
}

# A fresh VM gets a new overlay over the cached image and empty data disks; `own` boots the disks it had.
start_vm() {
    local role=$1 disks=${2:-fresh} dir=$RUN/$1
    if [[ -s $dir/qemu.pid ]] && kill -0 "$(cat "$dir/qemu.pid")" 2>/dev/null; then
        log "$role already running"
        return
    fi
    # Leftovers of a VM that died (its tap in either namespace) would block a new one.
    ip -n "$HUB" link del "${TAP[$role]}" 2>/dev/null || true
    ip link del "${TAP[$role]}" 2>/dev/null || true
    if [[ $disks == fresh ]]; then
        rm -rf "$dir" && install -d -m 0700 "$dir"
        qemu-img create -q -f qcow2 -b "$CACHE/debian12.raw" -F raw "$dir/root.qcow2"
        qemu-img create -q -f raw "$dir/${DATA_DISK[$role]}" 2G
    elif [[ ! -s $dir/root.qcow2 ]]; then
        log "$role has no disk of its own to boot ($dir/root.qcow2); start the lab with: lab.sh up"
        return 1
    fi
    rm -f "$dir/qemu.pid"
    local tap_args=() boot=()
    [[ $role == datacenter ]] && tap_args=(multi_queue)
    # The datacenter VM boots through the BIOS and GRUB on its disk, as a real host does (its kernel command line
    # is grub.cfg's); the edge VM's kernel starts directly, which is quicker under emulation.
    [[ $role == edge ]] && boot=(-kernel "$CACHE/vmlinuz" -initrd "$CACHE/initrd.img"
        -append "root=LABEL=hostperf-root rw console=ttyS0 systemd.hostname=edge")
    ip tuntap add dev "${TAP[$role]}" mode tap "${tap_args[@]}"
    # shellcheck disable=SC2046  # machine_args prints words on purpose
    qemu-system-x86_64 -accel tcg,thread=multi -cpu max -display none -monitor none \
        -serial "file:$dir/console.log" -pidfile "$dir/qemu.pid" -daemonize \
        "${boot[@]}" \
        -drive "if=none,id=root,file=$dir/root.qcow2,format=qcow2" \
        -netdev "user,id=mgmt,hostfwd=tcp:127.0.0.1:${PORT[$role]}-:22" \
        $(machine_args "$role" "$dir")
    # The tap joins the hub's bridge inside the hub namespace; QEMU keeps its fd.
    ip link set "${TAP[$role]}" netns "$HUB"
    ip -n "$HUB" link set "${TAP[$role]}" master hub0 up
}

# Boot under software emulation takes 30-90 s here; a crowded CI machine may take several times that.
BOOT_TIMEOUT=${HOSTPERF_LAB_BOOT_TIMEOUT:-600}

wait_for_ssh() {
    local role=$1 dir=$RUN/$1 key deadline=$((SECONDS + BOOT_TIMEOUT))
    while ((SECONDS < deadline)); do
        if ! kill -0 "$(cat "$dir/qemu.pid" 2>/dev/null)" 2>/dev/null; then
            log "$role: QEMU exited during boot"
            return 1
        fi
        key=$(grep -a -o 'HOSTPERF-HOSTKEY ssh-ed25519 [A-Za-z0-9+/=]*' "$dir/console.log" 2>/dev/null | head -1 || true)
        if [[ -n $key ]]; then
            echo "[127.0.0.1]:${PORT[$role]} ${key#HOSTPERF-HOSTKEY }" > "$dir/known_hosts"
            if ssh -q -i "$CACHE/id_ed25519" -p "${PORT[$role]}" -o BatchMode=yes -o ConnectTimeout=5 \
                -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$dir/known_hosts" root@127.0.0.1 true; then
                return 0
            fi
        fi
        sleep 1
    done
    log "$role did not reach SSH in ${BOOT_TIMEOUT} s"
    return 1
}

# What a failed boot printed, kept where `down` does not remove it: CI prints it (lab.sh report).
record_failure() {
    local role=$1 attempt=$2
    {
        echo "=== $(date -u +%FT%TZ) $role boot attempt $attempt failed; last console lines:"
        tail -n 40 "$RUN/$role/console.log" 2>/dev/null || echo "(no console log)"
        echo
    } >> "$CACHE/lab-failure.log"
    tail -n 40 "$RUN/$role/console.log" >&2 2>/dev/null || true
}

stop_vm() {
    local role=$1 pidfile=$RUN/$1/qemu.pid pid
    if [[ -s $pidfile ]]; then
        pid=$(cat "$pidfile")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    fi
    ip -n "$HUB" link del "${TAP[$role]}" 2>/dev/null || true
    ip link del "${TAP[$role]}" 2>/dev/null || true
}

# A boot that hangs under emulation is rare but happens: one fresh boot more before giving up.
boot_vm() {
    local role=$1
    wait_for_ssh "$role" && return 0
    record_failure "$role" 1
    log "$role: booting it once more on a fresh overlay"
    stop_vm "$role"
    start_vm "$role"
    wait_for_ssh "$role" && return 0
    record_failure "$role" 2
    return 1
}

# iperf3 serves one test at a time; the lab gives each VM its own server.
start_peer() {
    local port=$1 pidfile=$RUN/iperf3-$1.pid
    if [[ -s $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
        return
    fi
    ip netns exec "$HUB" iperf3 --server --daemon --bind 10.77.0.1 --port "$port" --pidfile "$pidfile"
}

up() {
    local started=$SECONDS
    install -d -m 0700 "$CACHE" "$RUN"
    rm -f "$CACHE/lab-failure.log"
    if ! bash "$HERE/build-image.sh" > "$CACHE/build.log" 2>&1; then
        { echo "=== $(date -u +%FT%TZ) image build failed; last lines:"; tail -n 40 "$CACHE/build.log"; } >> "$CACHE/lab-failure.log"
        tail -n 2 "$CACHE/build.log" >&2
        return 1
    fi
    tail -n 2 "$CACHE/build.log" >&2
    if ! ip netns list | grep -qw "$HUB"; then
        ip netns add "$HUB"
        ip -n "$HUB" link add hub0 type bridge
        ip -n "$HUB" addr add 10.77.0.1/24 dev hub0
        ip -n "$HUB" link set hub0 up
        ip -n "$HUB" link set lo up
    fi
    for port in "${IPERF_PORTS[@]}"; do start_peer "$port"; done
    for role in datacenter edge; do start_vm "$role"; done
    for role in datacenter edge; do boot_vm "$role"; done
    cat "$RUN"/*/known_hosts > "$RUN/known_hosts"
    log "up in $((SECONDS - started)) s: datacenter 127.0.0.1:2221, edge 127.0.0.1:2222, hub 10.77.0.1 in netns $HUB"
}

down() {
    for role in datacenter edge; do stop_vm "$role"; done
    # A process in a namespace outlives the namespace's name: stop the benchmark peers first.
    for port in "${IPERF_PORTS[@]}"; do
        if [[ -s $RUN/iperf3-$port.pid ]]; then
            kill "$(cat "$RUN/iperf3-$port.pid")" 2>/dev/null || true
        fi
    done
    ip netns del "$HUB" 2>/dev/null || true
    rm -rf "$RUN"
    log "down"
}

# A power loss and the next boot: the VM's disks keep what reached them, nothing else does.
restart() {
    local role=$1 pid
    [[ $role == datacenter || $role == edge ]] || { echo "usage: lab.sh restart datacenter|edge" >&2; return 2; }
    if [[ -s $RUN/$role/qemu.pid ]]; then
        pid=$(cat "$RUN/$role/qemu.pid")
        kill -9 "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    stop_vm "$role"
    start_vm "$role" own
    wait_for_ssh "$role"
    cat "$RUN"/*/known_hosts > "$RUN/known_hosts"
    log "$role booted again on its own disks"
}

report() {
    if [[ -s $CACHE/lab-failure.log ]]; then cat "$CACHE/lab-failure.log"; else echo "lab: the last up did not fail"; fi
}

status() {
    for role in datacenter edge; do
        local pidfile=$RUN/$role/qemu.pid
        if [[ -s $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
            echo "$role: running (pid $(cat "$pidfile"), ssh 127.0.0.1:${PORT[$role]})"
        else
            echo "$role: stopped"
        fi
    done
    ip netns list | grep -w "$HUB" || echo "hub: absent"
    for port in "${IPERF_PORTS[@]}"; do
        if [[ -s $RUN/iperf3-$port.pid ]] && kill -0 "$(cat "$RUN/iperf3-$port.pid")" 2>/dev/null; then
            echo "iperf3 server 10.77.0.1:$port: running"
        else
            echo "iperf3 server 10.77.0.1:$port: stopped"
        fi
    done
}

case ${1:-} in
up) up ;;
down) down ;;
status) status ;;
report) report ;;
restart) restart "${2:-}" ;;
*) echo "usage: lab.sh up|down|status|report|restart ROLE" >&2; exit 2 ;;
esac
