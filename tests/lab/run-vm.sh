#!/usr/bin/env bash
# Boot one lab VM from the cached image on a throwaway overlay and wait for SSH.
#   run-vm.sh datacenter|edge PORT   -> prints the VM's run directory
# The VM's disk changes go to the overlay, so the cached image stays pristine.
set -euo pipefail

ROLE=${1:?usage: run-vm.sh datacenter|edge PORT}
PORT=${2:?usage: run-vm.sh datacenter|edge PORT}
CACHE=${HOSTPERF_LAB_CACHE:-/var/cache/hostperf-lab}
RUN=${HOSTPERF_LAB_RUN:-/run/hostperf-lab}/$ROLE
install -d -m 0700 "$RUN"
qemu-img create -q -f qcow2 -b "$CACHE/debian12.ext4" -F raw "$RUN/root.qcow2"

common=(-accel tcg,thread=multi -cpu max -m 1024 -display none -serial "file:$RUN/console.log" -monitor none
        -kernel "$CACHE/vmlinuz" -initrd "$CACHE/initrd.img"
        -append "root=/dev/vda rw console=ttyS0 net.ifnames=1"
        -drive "if=none,id=root,file=$RUN/root.qcow2,format=qcow2"
        -netdev "user,id=mgmt,hostfwd=tcp:127.0.0.1:$PORT-:22"
        -pidfile "$RUN/qemu.pid" -daemonize)
case $ROLE in
datacenter)
    qemu-img create -q -f raw "$RUN/nvme.img" 1G
    machine=(-machine q35 -smp 4,sockets=2,cores=2,threads=1
        -device virtio-blk-pci,drive=root,bus=pcie.0 -device virtio-net-pci,netdev=mgmt,mq=on,vectors=6,bus=pcie.0
        -object memory-backend-ram,id=m0,size=512M -object memory-backend-ram,id=m1,size=512M
        -numa node,nodeid=0,cpus=0-1,memdev=m0 -numa node,nodeid=1,cpus=2-3,memdev=m1
        -device pxb-pcie,id=pxb1,bus_nr=128,numa_node=1,bus=pcie.0
        -device pcie-root-port,id=rp1,bus=pxb1,chassis=1 -device pcie-root-port,id=rp2,bus=pxb1,chassis=2
        -drive "if=none,id=nvm,file=$RUN/nvme.img,format=raw" -device nvme,drive=nvm,serial=hostperf-nvme1,bus=rp1
        -netdev user,id=data -device e1000e,netdev=data,bus=rp2)
    ;;
edge)
    qemu-img create -q -f raw "$RUN/hdd.img" 1G
    machine=(-machine pc -smp 1
        -device virtio-blk-pci,drive=root -device virtio-net-pci,netdev=mgmt
        -drive "if=none,id=hdd,file=$RUN/hdd.img,format=raw" -device ide-hd,drive=hdd,rotation_rate=7200
        -netdev user,id=data -device e1000e,netdev=data)
    ;;
*) echo "run-vm.sh: unknown role $ROLE" >&2; exit 2 ;;
esac
qemu-system-x86_64 "${common[@]}" "${machine[@]}"
for _ in $(seq 1 180); do
    if ssh -q -i "$CACHE/id_ed25519" -p "$PORT" -o BatchMode=yes -o ConnectTimeout=5 \
        -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile="$RUN/known_hosts" root@127.0.0.1 true; then
        echo "$RUN"
        exit 0
    fi
    sleep 2
done
echo "run-vm.sh: $ROLE did not reach SSH; see $RUN/console.log" >&2
exit 1
