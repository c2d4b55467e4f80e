#!/bin/sh
# Starts a child that writes its pid to $1, then never finishes, like a
# script stuck on a network call.
sleep 300 &
echo $! > "$1"
echo "waiting for the relay" >&2
wait
