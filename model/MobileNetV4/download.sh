#!/bin/sh
# Download the RDK Model Zoo's published .bin files for MobileNetV4 into rdk_x3/ and rdk_x5/ beside this script, by board (options: --board x3|x5, --dry-run).
cd "$(dirname "$0")/../.." && exec "${PYTHON:-python3}" -m helpers download --arch MobileNetV4 "$@"
