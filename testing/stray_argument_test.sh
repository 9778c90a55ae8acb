#!/usr/bin/env bash
# Every tool refuses a positional argument (a flag typed without its "--",
# or a value after a space) once, in ToolMain: exit 2, one line naming it,
# and nothing written. Args: the tools' binaries.
set -uo pipefail
tools=()
for tool in "$@"; do tools+=("$(realpath "$tool")"); done
tmp=$(mktemp -d)
cd "$tmp"
status=0
for tool in "${tools[@]}"; do
  name=$(basename "$tool")
  "$tool" --out="$tmp/out_$name" stray 2>"$tmp/err"
  rc=$?
  if [[ $rc -ne 2 ]]; then echo "$name: exit $rc for a stray argument, expected 2"; status=1; fi
  if ! grep -q "unexpected argument 'stray' (flags take the form --name=value)" "$tmp/err"; then
    echo "$name: message was: $(cat "$tmp/err")"; status=1
  fi
  if [[ -e "$tmp/out_$name" ]]; then echo "$name: wrote $tmp/out_$name"; status=1; fi
done
[[ $status -eq 0 ]] && echo "$# tools refuse a stray argument"
exit $status
