#!/usr/bin/env bash
# Build (once, then cached) the Debian 12 disk the lab boots: a root filesystem
# from Debian packages (the standard kernel: the cloud kernel lacks e1000e and
# netdevsim) on the disk's one partition, GRUB in its MBR (the datacenter VM
# boots through it, so kernel command-line changes take the path a real host's
# take), the kernel and initrd beside it (the edge VM boots them directly),
# and an SSH key pair the lab owns. Idempotent: a disk built by this script's
# exact content is reused (a fresh clone's newer mtime does not rebuild it).
set -euo pipefail

CACHE=${HOSTPERF_LAB_CACHE:-/var/cache/hostperf-lab}
MIRROR=${HOSTPERF_LAB_MIRROR:-http://deb.debian.org/debian}
SIZE=${HOSTPERF_LAB_IMAGE_SIZE:-3G}
PACKAGES=linux-image-amd64,systemd-sysv,udev,dbus,openssh-server,python3,iproute2,ethtool,procps,kmod,pciutils,numactl,hwloc-nox,fio,iperf3,sockperf,sysbench,stress-ng,irqbalance,nftables,ca-certificates,grub-pc-bin,grub2-common
SELF=$(readlink -f "$0")
KEY=$(sha256sum "$SELF" | cut -d' ' -f1)

image=$CACHE/debian12.raw
if [[ -s $image && -s $CACHE/vmlinuz && -s $CACHE/initrd.img && "$(cat "$CACHE/image.key" 2>/dev/null)" == "$KEY" ]]; then
    echo "lab image cached: $image"
    exit 0
fi

for tool in debootstrap mkfs.ext4 sfdisk qemu-system-x86_64 ssh-keygen; do
    command -v "$tool" >/dev/null || {
        echo "build-image: $tool missing; install: apt-get install debootstrap e2fsprogs fdisk qemu-system-x86 openssh-client" >&2
        exit 1
    }
done

install -d -m 0700 "$CACHE"
rootfs=
trap 'rm -rf "$rootfs"' EXIT

# A mirror that drops a connection fails debootstrap part-way: start over in a clean directory.
for attempt in 1 2 3; do
    rm -rf "$rootfs"
    rootfs=$(mktemp -d "$CACHE/rootfs.XXXXXX")
    if debootstrap --variant=minbase --include="$PACKAGES" bookworm "$rootfs" "$MIRROR"; then
        break
    fi
    [[ $attempt == 3 ]] && { echo "build-image: debootstrap failed 3 times ($MIRROR)" >&2; exit 1; }
    echo "build-image: debootstrap failed (attempt $attempt), retrying in 30 s" >&2
    sleep 30
done

[[ -s $CACHE/id_ed25519 ]] || ssh-keygen -q -t ed25519 -N '' -C hostperf-lab -f "$CACHE/id_ed25519"
install -d -m 0700 "$rootfs/root/.ssh"
install -m 0600 "$CACHE/id_ed25519.pub" "$rootfs/root/.ssh/authorized_keys"

echo hostperf-lab > "$rootfs/etc/hostname"
printf 'LABEL=hostperf-root / ext4 defaults,noatime 0 1\n' > "$rootfs/etc/fstab"
# Interface names differ by machine type (ens3 on pc, enp0sN on q35): match, not name.
cat > "$rootfs/etc/systemd/network/50-lab.network" <<'NET'
[Match]
Name=en* eth*

[Network]
DHCP=ipv4
LinkLocalAddressing=no
NET
# The lab's data network: each VM's data NIC has a fixed MAC and address on
# the hub bridge (10.77.0.0/24, inside a network namespace the lab makes).
for vm in 2:edge 3:datacenter; do
    cat > "$rootfs/etc/systemd/network/10-data-${vm#*:}.network" <<NET
[Match]
MACAddress=52:54:00:77:00:0${vm%%:*}

[Network]
Address=10.77.0.${vm%%:*}/24
LinkLocalAddressing=no
NET
done
# The edge VM's WAN: 40 ms RTT, 1% loss, 20 Mbit/s, applied with netem in the
# VM's own kernel (this machine's kernel has no netem).
cat > "$rootfs/usr/local/sbin/lab-wan" <<'SH'
#!/bin/sh
for dev in /sys/class/net/*; do
    if [ "$(cat "$dev/address")" = "52:54:00:77:00:02" ]; then
        exec tc qdisc replace dev "${dev##*/}" root netem delay 40ms loss 1% rate 20mbit
    fi
done
SH
chmod 0755 "$rootfs/usr/local/sbin/lab-wan"
cat > "$rootfs/etc/systemd/system/lab-wan.service" <<'UNIT'
[Unit]
Description=Emulate the edge WAN link on the data NIC
After=systemd-networkd.service

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/lab-wan

[Install]
WantedBy=multi-user.target
UNIT
# Host keys are made per VM at first boot and announced on the serial console,
# so the lab records them from a channel it trusts rather than on first use.
rm -f "$rootfs"/etc/ssh/ssh_host_*
cat > "$rootfs/usr/local/sbin/lab-announce-hostkey" <<'SH'
#!/bin/sh
echo "HOSTPERF-HOSTKEY $(cat /etc/ssh/ssh_host_ed25519_key.pub)" > /dev/ttyS0
SH
chmod 0755 "$rootfs/usr/local/sbin/lab-announce-hostkey"
cat > "$rootfs/etc/systemd/system/lab-hostkeys.service" <<'UNIT'
[Unit]
Description=Generate this VM's own SSH host keys and announce them on the console
Before=ssh.service
ConditionKernelCommandLine=!hostperf.install_grub

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A
ExecStartPost=/usr/local/sbin/lab-announce-hostkey

[Install]
WantedBy=multi-user.target
UNIT
# GRUB as Debian's grub-pc would set it up, on the serial console with a 1 s menu. The datacenter VM's identity
# is on its command line (the edge VM boots its kernel directly with its own).
sed -e 's/^GRUB_TIMEOUT=.*/GRUB_TIMEOUT=1/' -e 's/^GRUB_CMDLINE_LINUX_DEFAULT=.*/GRUB_CMDLINE_LINUX_DEFAULT=""/' \
    -e 's/^GRUB_CMDLINE_LINUX=.*/GRUB_CMDLINE_LINUX="console=ttyS0 systemd.hostname=datacenter"/' \
    "$rootfs/usr/share/grub/default/grub" > "$rootfs/etc/default/grub"
cat >> "$rootfs/etc/default/grub" <<'GRUB'
GRUB_TERMINAL=serial
GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"
GRUB_DISABLE_OS_PROBER=true
GRUB
# GRUB goes into the MBR from inside the VM, on its first boot (this machine need not map a disk's partitions):
# the kernel is started directly with hostperf.install_grub, installs GRUB, writes grub.cfg and powers off.
cat > "$rootfs/etc/systemd/system/lab-install-grub.service" <<'UNIT'
[Unit]
Description=Install GRUB on the lab disk (image build only)
ConditionKernelCommandLine=hostperf.install_grub
After=local-fs.target

[Service]
Type=oneshot
ExecStart=/usr/sbin/grub-install --target=i386-pc /dev/vda
ExecStart=/usr/sbin/update-grub
ExecStart=/bin/sh -c 'echo HOSTPERF-GRUB-INSTALLED > /dev/ttyS0'
ExecStartPost=/bin/systemctl --no-block poweroff

[Install]
WantedBy=multi-user.target
UNIT
# irqbalance runs from boot, as on a real host: IRQ placement must survive it across reboots and link flaps.
# D-Bus lets systemctl and ansible.builtin.reboot talk to systemd as they do on a real host.
chroot "$rootfs" systemctl enable systemd-networkd lab-hostkeys.service lab-wan.service serial-getty@ttyS0.service \
    irqbalance.service lab-install-grub.service >/dev/null 2>&1
sed -i 's/^#\?PermitRootLogin.*/PermitRootLogin prohibit-password/' "$rootfs/etc/ssh/sshd_config"
chroot "$rootfs" apt-get clean

cp "$(readlink -f "$rootfs/vmlinuz")" "$CACHE/vmlinuz.new"
cp "$(readlink -f "$rootfs/initrd.img")" "$CACHE/initrd.img.new"
rm -f "$image.new" "$CACHE/root.ext4"
mkfs.ext4 -q -L hostperf-root -d "$rootfs" "$CACHE/root.ext4" "$SIZE"
# One MBR partition from 1 MiB (GRUB's core image lives in the gap before it), the filesystem copied into it.
fs_bytes=$(stat -c %s "$CACHE/root.ext4")
truncate -s $((fs_bytes + 1048576)) "$image.new"
echo 'start=2048, type=83, bootable' | sfdisk -q "$image.new"
dd if="$CACHE/root.ext4" of="$image.new" bs=1M seek=1 conv=notrunc,sparse status=none
rm -f "$CACHE/root.ext4"
rm -f "$CACHE/install-grub.log"
timeout 900 qemu-system-x86_64 -accel tcg,thread=multi -cpu max -m 1024 -display none -monitor none -no-reboot \
    -serial "file:$CACHE/install-grub.log" -kernel "$CACHE/vmlinuz.new" -initrd "$CACHE/initrd.img.new" \
    -append "root=LABEL=hostperf-root rw console=ttyS0 hostperf.install_grub" \
    -drive "if=virtio,file=$image.new,format=raw" -nic none
grep -aq HOSTPERF-GRUB-INSTALLED "$CACHE/install-grub.log" || {
    echo "build-image: GRUB was not installed; the VM's console said:" >&2
    tail -n 30 "$CACHE/install-grub.log" >&2
    exit 1
}
mv "$CACHE/vmlinuz.new" "$CACHE/vmlinuz"
mv "$CACHE/initrd.img.new" "$CACHE/initrd.img"
mv "$image.new" "$image"
rm -f "$CACHE/debian12.ext4"
echo "$KEY" > "$CACHE/image.key"
echo "lab image built: $image"
