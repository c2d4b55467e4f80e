#!/bin/sh
# Writes about 1.2 MB, far past the kept output, then reports OK: the probe
# must keep reading so that the script does not block on a full pipe.
echo "OK - chatty | lines=20000"
awk 'BEGIN { for (i = 0; i < 20000; i++) printf "line %05d: the quick brown fox jumps over the lazy dog\n", i }'
exit 0
