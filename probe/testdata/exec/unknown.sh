#!/bin/sh
# Exit 3: the plugin could not tell (bad arguments, a missing tool).
echo "UNKNOWN - cannot read /proc/nothing" >&2
exit 3
