#!/bin/sh
# Download the RDK Model Zoo's published .bin / .hbm files for MobileNetV3 into rdk_x5/, rdk_s100/, rdk_s600/ beside this script, by board (options: --board x5|s100|s600, --dry-run). Generated: python -m helpers readme.
cd "$(dirname "$0")/../.." && exec "${PYTHON:-python3}" -m helpers download --arch MobileNetV3 "$@"
