#!/bin/sh
# Without _meta, each host's variables come from --host.
case "$1" in
  --list) echo '{"web": ["w1", "w2"]}' ;;
  --host) echo "{\"asked_for\": \"$2\"}" ;;
  *) exit 3 ;;
esac
