#!/bin/sh
echo "cannot reach cloud API" >&2
exit 2
