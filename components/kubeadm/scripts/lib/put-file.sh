# put_file MODE PATH CONTENT: atomic write when the content differs; PUT_CHANGED=1 when it did.
put_file() {
  local mode=$1 path=$2 content=$3 tmp
  PUT_CHANGED=0
  mkdir -p -- "${path%/*}"
  if [[ -f $path && "$(<"$path")" == "$content" ]]; then
    chmod "$mode" -- "$path"
    return 0
  fi
  tmp=$(mktemp "$path.k8s-ha.XXXXXX")
  printf '%s\n' "$content" >"$tmp"
  chmod "$mode" -- "$tmp"
  mv -f -- "$tmp" "$path"
  PUT_CHANGED=1
}
