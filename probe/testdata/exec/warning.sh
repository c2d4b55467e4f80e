#!/bin/sh
echo "WARNING - load is high | load1=5.2;4;8;0"
exit 1
