#!/bin/sh
# Installs what the lab needs on a Debian (12) controller: Docker's engine,
# debootstrap to build the host image, the ssh client, and the small tools the
# lab scripts use. Safe to run again; installs only what is missing.
set -eu

[ "$(id -u)" = 0 ] || {
	echo "install-deps.sh: run as root (apt-get)" >&2
	exit 1
}

missing=
need() { # need PACKAGE COMMAND
	command -v "$2" >/dev/null 2>&1 || missing="$missing $1"
}
need debootstrap debootstrap
need openssh-client ssh
need openssh-client ssh-keygen
need iproute2 ip
need util-linux flock
need python3 python3 # lab/test.sh parses the inventory with shlex
# Debian's own engine package; any other Docker engine that is already
# installed is kept.
command -v dockerd >/dev/null 2>&1 || command -v docker >/dev/null 2>&1 || missing="$missing docker.io"

if [ -n "$missing" ]; then
	# shellcheck disable=SC2086,SC2046 # one package per word
	set -- $(printf '%s\n' $missing | sort -u)
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
fi

docker info >/dev/null 2>&1 || {
	echo "install-deps.sh: docker is installed but the daemon does not answer; start it (systemctl start docker)" >&2
	exit 1
}
echo "install-deps.sh: lab dependencies present"
