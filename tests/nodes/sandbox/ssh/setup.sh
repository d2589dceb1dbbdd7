#!/usr/bin/env bash
# A sandbox's login as on the stack's Ubuntu AMI after cloud-init (tests/nodes/ssh.ts runs this as
# root inside the sandbox): the default user `ubuntu` (uid 1000, groups adm and sudo, password
# locked) authorised with the run's public key, cloud-init's sudo rule for it, host keys of the
# sandbox's own, and Debian's sshd with a configuration of the sandbox's own. A node (not the
# bastion) then drops SSH from anywhere but the bastion, as the security groups' cp-in-ssh and
# worker-in-ssh rules do. The host's files are never changed: the node's passwd, group, shadow,
# /home and /etc/sudoers.d are its own copies, bound over the host's inside its mount namespace.
#
# usage: setup.sh NODE_DIR AUTHORIZED_KEY_FILE [SSH_ONLY_FROM]
set -euo pipefail
readonly NODE_DIR=$1 AUTHORIZED_KEY_FILE=$2 SSH_ONLY_FROM=${3:-}
readonly D=$NODE_DIR/ssh
readonly USER_NAME=ubuntu USER_ID=1000
node_name=$(hostname)
mkdir -p "$D/etc" "$D/home" "$D/sudoers.d" "$NODE_DIR/logs"

# --- the user, as cloud-init's default_user on Ubuntu's cloud images -----------------------
# The host's system accounts only (its own users may hold uid 1000), then ubuntu.
awk -F: '$3 < 1000 || $3 == 65534' /etc/passwd >"$D/etc/passwd"
printf '%s:x:%d:%d:Ubuntu:/home/%s:/bin/bash\n' "$USER_NAME" "$USER_ID" "$USER_ID" "$USER_NAME" >>"$D/etc/passwd"
awk -F: -v u="$USER_NAME" 'BEGIN { OFS = ":" }
  $3 >= 1000 && $3 != 65534 { next }
  $1 == "adm" || $1 == "sudo" { $4 = ($4 == "" ? u : $4 "," u) }
  { print }' /etc/group >"$D/etc/group"
printf '%s:x:%d:\n' "$USER_NAME" "$USER_ID" >>"$D/etc/group"
# The password locked ('!'), as cloud-init's lock_passwd: keys only.
awk -F: 'NR == FNR { keep[$1] = 1; next } keep[$1]' "$D/etc/passwd" /etc/shadow >"$D/etc/shadow"
printf '%s:!:%d:0:99999:7:::\n' "$USER_NAME" "$(($(date +%s) / 86400))" >>"$D/etc/shadow"
chmod 0644 "$D/etc/passwd" "$D/etc/group"
chmod 0640 "$D/etc/shadow"
chgrp shadow "$D/etc/shadow"
for f in passwd group shadow; do mount --bind "$D/etc/$f" "/etc/$f"; done

home=$D/home/$USER_NAME
mkdir -p "$home/.ssh"
install -m 0600 "$AUTHORIZED_KEY_FILE" "$home/.ssh/authorized_keys"
chown -R "$USER_ID:$USER_ID" "$home"
chmod 0750 "$home"
chmod 0700 "$home/.ssh"
mount --bind "$D/home" /home

# cloud-init's sudo rule for the default user; the host's other sudoers.d files stay. The lab's
# secure_path (99-k8s-ha-lab) is written by the harness before each run (tests/nodes/ssh.ts).
cp -a /etc/sudoers.d/. "$D/sudoers.d/"
printf '# User rules for %s\n%s ALL=(ALL) NOPASSWD:ALL\n' "$USER_NAME" "$USER_NAME" >"$D/sudoers.d/90-cloud-init-users"
chmod 0440 "$D/sudoers.d/90-cloud-init-users"
mount --bind "$D/sudoers.d" /etc/sudoers.d

# --- sshd: the sandbox's own host key and configuration ------------------------------------
# Ubuntu's first boot generates the host keys (cloud-init's ssh module); ED25519 alone here.
ssh-keygen -q -t ed25519 -N '' -C "root@$node_name" -f "$D/ssh_host_ed25519_key"
# Ubuntu 24.04's sshd_config with cloud-init's 60-cloudimg-settings.conf (PasswordAuthentication
# no). The lab's own lines: the host key and pid file paths, and LogLevel DEBUG3, the most sshd
# ever logs, so that tests/nodes/ssh.spec.ts finds any secret sshd could write to its log.
cat >"$D/sshd_config" <<CONF
HostKey $D/ssh_host_ed25519_key
PidFile /run/sshd.pid
KbdInteractiveAuthentication no
PasswordAuthentication no
PermitRootLogin prohibit-password
UsePAM yes
X11Forwarding yes
PrintMotd no
AcceptEnv LANG LC_*
Subsystem sftp /usr/lib/openssh/sftp-server
LogLevel DEBUG3
CONF
# sshd's privilege separation directory (the ssh unit's RuntimeDirectory); /run is the node's own.
install -d -m 0755 /run/sshd
/usr/sbin/sshd -t -f "$D/sshd_config"
/usr/sbin/sshd -f "$D/sshd_config" -E "$NODE_DIR/logs/sshd.log"

# --- the security group: a node takes SSH from the bastion only ---------------------------
if [[ -n $SSH_ONLY_FROM ]]; then
  iptables -w -A INPUT -p tcp --dport 22 ! -s "$SSH_ONLY_FROM" \
    -m comment --comment "k8s-ha lab: SSH from the bastion only (security group)" -j DROP
fi
