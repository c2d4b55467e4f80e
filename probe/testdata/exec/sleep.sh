#!/bin/sh
# Starts a grandchild that writes its PID to the file named by $1 and would
# outlive this script, then sleeps past any test timeout.
sh -c 'echo $$ > "$0.tmp" && mv "$0.tmp" "$0"; exec sleep 60' "$1" &
sleep 60
