#!/usr/bin/env bash
# Sizing measurements for lab/README.md: for each N given, brings up N hosts
# from scratch (image cached), then reports the bring-up time, the machine's
# memory cost per host (growth of MemTotal - MemFree, which includes Docker's shim and
# fuse-overlayfs processes outside the containers), the containers' own
# memory as Docker accounts it, and a real ssh login to every host.
# Takes the lab down before and after each N.
set -euo pipefail
LAB_DIR=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
LAB=$LAB_DIR/lab

# Memory in use, counting page cache as used: the hosts' files live on
# per-container fuse mounts, so their cached pages are not shared.
used_kb() { awk '/^MemTotal:/ {t = $2} /^MemFree:/ {f = $2} END {print t - f}' /proc/meminfo; }

(($# > 0)) || set -- 10 50 100
for n in "$@"; do
	"$LAB" down >/dev/null 2>&1 || true
	sleep 3
	before=$(used_kb)
	start=$(date +%s%N)
	if ! "$LAB" up "$n" >/dev/null 2>&1; then
		echo "N=$n: up FAILED"
		continue
	fi
	took=$(awk -v a="$start" -v b="$(date +%s%N)" 'BEGIN {printf "%.1f", (b - a) / 1e9}')
	sleep 10 # let journald, cron and friends settle
	after=$(used_kb)
	# shellcheck disable=SC2046 # one id per word
	docker_avg=$(docker stats --no-stream --format '{{.MemUsage}}' $(docker ps -q --filter label=drover.lab.host) |
		awk '{v = $1; u = v; sub(/[0-9.]+/, "", u); sub(/[A-Za-z]+/, "", v); if (u == "GiB") v *= 1024; if (u == "KiB") v /= 1024; s += v} END {printf "%.1f", s / NR}')
	ok=0
	while read -r _ ip; do
		ssh -n -i "$LAB_DIR/.state/id_ed25519" -o BatchMode=yes -o ConnectTimeout=5 -o StrictHostKeyChecking=yes \
			-o UserKnownHostsFile="$LAB_DIR/.state/known_hosts" "root@$ip" true && ok=$((ok + 1))
	done < <("$LAB" inventory | awk '/ ansible_host=/ {sub("ansible_host=", "", $2); print $1, $2}')
	load=$(cut -d' ' -f1 /proc/loadavg)
	per_host=$(awk -v a="$before" -v b="$after" -v n="$n" 'BEGIN {printf "%.1f", (b - a) / 1024 / n}')
	printf 'N=%d: up %ss, %d/%d ssh ok, machine memory %s MiB/host, docker stats %s MiB/host, load %s\n' \
		"$n" "$took" "$ok" "$n" "$per_host" "$docker_avg" "$load"
done
"$LAB" down >/dev/null 2>&1 || true
