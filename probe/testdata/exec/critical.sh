#!/bin/sh
echo "CRITICAL - queue is stuck | depth=12000;1000;10000;0"
exit 2
