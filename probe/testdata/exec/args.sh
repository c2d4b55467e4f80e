#!/bin/sh
# Prints each argument on a line of its own, to show that no shell split or
# expanded them.
for a in "$@"; do printf '%s\n' "$a"; done
