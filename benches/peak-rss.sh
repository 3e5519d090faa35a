#!/usr/bin/env bash
# Peak memory of one pass that archives one large file to the S3 test server.
#
#   benches/peak-rss.sh [SIZE_MIB]     (default 2048)
#
# Starts the test servers if needed (scripts/testbed), builds logferry in release mode,
# writes SIZE_MIB of log-like text, runs `logferry --run-once` under /usr/bin/time and
# prints the peak RSS next to the configured bound: 64 MiB + 4 × multipart_threshold.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
size_mib=${1:-2048}
scripts/testbed up >/dev/null
. .testbed/env
cargo build --release --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/logs"
python3 - "$work/logs/big.log" "$size_mib" <<'PY'
import sys
path, mib = sys.argv[1], int(sys.argv[2])
line = 0
with open(path, "w", buffering=1 << 20) as f:
    written, target = 0, mib << 20
    while written < target:
        chunk = "".join(
            f"2026-11-21T10:{(line + i) // 60 % 60:02d}:{(line + i) % 60:02d}Z INFO request id={(line + i) * 2654435761 % 2**32:08x} served in {(line + i) % 997} ms\n"
            for i in range(10000)
        )
        f.write(chunk)
        written += len(chunk)
        line += 10000
PY
touch -d '1 hour ago' "$work/logs/big.log"
threshold_mib=32
part_mib=8
cat > "$work/logferry.toml" <<TOML
state_dir = "state"
multipart_threshold = "${threshold_mib}MiB"
part_size = "${part_mib}MiB"
[destination]
url = "s3://$TESTBED_S3_BUCKET/peak-rss-$$"
[destination.options]
aws_endpoint = "$TESTBED_S3_ENDPOINT"
aws_access_key_id = "$TESTBED_S3_ACCESS_KEY"
aws_secret_access_key = "$TESTBED_S3_SECRET_KEY"
aws_region = "us-east-1"
aws_allow_http = true
[[sources]]
name = "app"
path = "logs"
TOML
size=$(stat -c %s "$work/logs/big.log")
/usr/bin/time -f '%M %e' -o "$work/time" target/release/logferry --config "$work/logferry.toml" --run-once
read -r peak_kib secs < "$work/time"
bound_mib=$((64 + 4 * threshold_mib))
echo "file: $((size >> 20)) MiB; wall: ${secs} s; peak RSS: $((peak_kib / 1024)) MiB; bound: ${bound_mib} MiB (64 + 4 x ${threshold_mib} MiB)"
