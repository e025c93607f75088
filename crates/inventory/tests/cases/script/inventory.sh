#!/bin/sh
# A dynamic inventory with _meta: one call is enough.
if [ "$1" = "--list" ]; then
cat <<'JSON'
{
  "web": {"hosts": ["w1", "w2"], "vars": {"http_port": 8080, "nested": {"a": [1, 2]}}},
  "db": ["d1"],
  "prod": {"children": ["web", "db"], "vars": {"env": "prod"}},
  "_meta": {"hostvars": {"w1": {"ansible_host": "10.0.0.1"}, "d1": {"backup": true}}}
}
JSON
else
  echo "unexpected call $*" >&2
  exit 3
fi
