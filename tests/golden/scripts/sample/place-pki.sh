#!/usr/bin/env bash
# k8s-ha place-pki: place PKI files under /etc/kubernetes from stdin
# Rendered by k8s-ha from typed data; do not edit by hand.
# stdin: lines '<octal mode> <absolute path under /etc/kubernetes/> <base64 content>' (SECRET: private keys)
# Tests only: K8S_HA_FSROOT prefixes every host path (default: empty, the real filesystem);
# commands are replaced through PATH.
set -euo pipefail
umask 077

readonly SCRIPT_NAME='place-pki'
readonly STDIN_TIMEOUT_SECONDS='60'
readonly FSROOT="${K8S_HA_FSROOT:-}"
readonly STATE_DIR="$FSROOT/var/lib/k8s-ha"

log() { printf '[k8s-ha %s] %s\n' "$SCRIPT_NAME" "$*"; }
die() {
  printf '[k8s-ha %s] ERROR: %s\n' "$SCRIPT_NAME" "$*" >&2
  exit 1
}

readonly CHANGED_FILE="$STATE_DIR/pki-changed"
readonly LINE_RE='^(0[0-7]{3})[[:space:]]+(/[^[:space:]]+)[[:space:]]+([A-Za-z0-9+/]+={0,2})$'
readonly PATH_RE='^/etc/kubernetes/[A-Za-z0-9._/-]+$'

# No guard needed: placing is idempotent by construction (identical files are left untouched).

# --- read and validate every entry before writing anything ------------------------------------
modes=()
paths=()
contents=()
declare -A seen=()
line_no=0
while :; do
  line=''
  rc=0
  IFS= read -r -t "$STDIN_TIMEOUT_SECONDS" line || rc=$?
  if ((rc > 128)); then
    die "timed out after ${STDIN_TIMEOUT_SECONDS}s waiting for PKI entries on stdin"
  fi
  line=${line%$'\r'}
  if [[ -n $line ]]; then
    line_no=$((line_no + 1))
    if [[ ! $line =~ $LINE_RE ]]; then
      die "malformed input: stdin line $line_no is not '<octal mode> <absolute path> <base64 content>'"
    fi
    mode=${BASH_REMATCH[1]}
    path=${BASH_REMATCH[2]}
    b64=${BASH_REMATCH[3]}
    if [[ ! $path =~ $PATH_RE || $path == *//* || $path == */ || "$path/" == */./* || "$path/" == */../* ]]; then
      die "refusing stdin line $line_no: $path is not a plain path under /etc/kubernetes/"
    fi
    if ((8#$mode & 8#022)); then
      die "refusing stdin line $line_no: mode $mode for $path is group- or world-writable"
    fi
    if [[ $path == *.key && $mode != 0600 ]]; then
      die "refusing stdin line $line_no: private key $path must have mode 0600, not $mode"
    fi
    if [[ -n ${seen[$path]:-} ]]; then
      die "malformed input: $path appears twice on stdin"
    fi
    if ! printf '%s' "$b64" | base64 -d >/dev/null 2>&1; then
      die "malformed input: the content for $path (stdin line $line_no) is not valid base64"
    fi
    seen[$path]=1
    modes+=("$mode")
    paths+=("$path")
    contents+=("$b64")
  fi
  if ((rc != 0)); then
    break
  fi
done
if ((${#paths[@]} == 0)); then
  die "missing input: no PKI entries on stdin (expected lines '<octal mode> <absolute path> <base64 content>')"
fi

# --- write: temp file in the target directory, mode set before the content lands, then rename --
tmp=''
trap 'if [[ -n $tmp ]]; then rm -f -- "$tmp"; fi' EXIT
changed=()
unchanged=0
for i in "${!paths[@]}"; do
  path=${paths[i]}
  mode=${modes[i]}
  dest="$FSROOT$path"
  mkdir -p -- "${dest%/*}"
  tmp=$(mktemp "${dest%/*}/.k8s-ha-place.XXXXXX")
  chmod "$mode" -- "$tmp"
  printf '%s' "${contents[i]}" | base64 -d >"$tmp"
  if [[ -f $dest && ! -L $dest ]] && cmp -s -- "$tmp" "$dest"; then
    rm -f -- "$tmp"
    tmp=''
    if [[ $(stat -c '%a' -- "$dest") != "${mode#0}" ]]; then
      chmod "$mode" -- "$dest"
      log "mode of $path set to $mode (content unchanged)"
    fi
    unchanged=$((unchanged + 1))
  else
    mv -f -- "$tmp" "$dest"
    tmp=''
    changed+=("$path")
    log "changed $path"
  fi
done

if ((${#changed[@]} > 0)); then
  mkdir -p -- "$STATE_DIR"
  {
    if [[ -f $CHANGED_FILE ]]; then
      cat -- "$CHANGED_FILE"
    fi
    printf '%s\n' "${changed[@]}"
  } | sort -u >"$CHANGED_FILE.tmp"
  mv -f -- "$CHANGED_FILE.tmp" "$CHANGED_FILE"
fi
log "summary: ${#changed[@]} changed, $unchanged unchanged"
