#!/bin/sh
# Download the RDK Model Zoo's published .bin files for MobileOne into rdk_x3/, rdk_x5/ beside this script, by board (options: --board x3|x5, --dry-run). Generated: python -m helpers readme.
cd "$(dirname "$0")/../.." && exec "${PYTHON:-python3}" -m helpers download --arch MobileOne "$@"
