#!/bin/sh
# Exit 0, OK, with one item of performance data.
echo "OK - all good | time=0.5s;1;2;0;10"
exit 0
