#!/usr/bin/env bash
# Re-captures every golden Kafka request vector end to end:
#   kcat (Debian's librdkafka), the Apache Kafka Java client, and a recent
#   librdkafka (confluent-kafka wheel), each against its own capture_server.py,
# then rewrites expected.json with make_expected.py.
#
# Usage: tools/capture/capture-all.sh [GOLDEN_DIR]
#   GOLDEN_DIR defaults to src/kafka/protocol/tests/golden.
# Environment:
#   FLOE_CAPTURE_CACHE  jars, classes and the Python venv (default ~/.cache/floe-capture)
#   KAFKA_CLIENTS_VERSION    (default 4.1.0)
#   CONFLUENT_KAFKA_VERSION  (default 2.16.1)
#   CAPTURE_CLIENTS     subset to run, e.g. "kcat java" (default "kcat java librdkafka")
# Needs root (or the tools already installed) for apt-get; nothing is written
# to the repository except GOLDEN_DIR/<client>/ and GOLDEN_DIR/expected.json.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
golden=${1:-$repo/src/kafka/protocol/tests/golden}
cache=${FLOE_CAPTURE_CACHE:-$HOME/.cache/floe-capture}
kafka_clients_version=${KAFKA_CLIENTS_VERSION:-4.1.0}
confluent_kafka_version=${CONFLUENT_KAFKA_VERSION:-2.16.1}
clients=${CAPTURE_CLIENTS:-kcat java librdkafka}
topic=golden
base_port=19190

mkdir -p "$golden" "$cache"
versions=()
failures=0
fail() {
    echo "capture-all: $1 failed" >&2
    failures=$((failures + 1))
}

apt_install() {
    if ! apt-get install -y --no-install-recommends "$@"; then
        apt-get update && apt-get install -y --no-install-recommends "$@"
    fi
}

server_pid=
start_server() {  # client-dir port [server options]
    rm -rf "${golden:?}/$1"
    rm -f "$cache/$1-server.log"
    python3 "$here/capture_server.py" --port "$2" --out "$golden" --client "$1" \
        --topic "$topic:1" --max-seconds 300 "${@:3}" 2> "$cache/$1-server.log" &
    server_pid=$!
    for _ in $(seq 50); do
        if grep -q listening "$cache/$1-server.log" 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "capture server for $1 did not start:" >&2
    cat "$cache/$1-server.log" >&2
    return 1
}
stop_server() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
        server_pid=
    fi
}
trap stop_server EXIT

records() {  # label: the 3 records of the plan as kcat -K: input
    for i in 0 1 2; do
        printf 'key-%d:value-%d-%s-floefloefloefloefloefloefloefloe\n' "$i" "$i" "$1"
    done
}

capture_kcat() {
    command -v kcat > /dev/null || apt_install kcat
    local port=$((base_port + 1)) b
    b=127.0.0.1:$port
    # librdkafka < 2.10 only compresses gzip/snappy/lz4 when the broker offers
    # Produce v2 (librdkafka issue 4956); Kafka 4.0 starts at v3, so advertise
    # the Kafka 3.x minimums for this client.
    start_server kcat "$port" --legacy-min-versions
    local common=(-b "$b" -X acks=all -X linger.ms=200 -X socket.timeout.ms=3000
                  -X message.timeout.ms=6000)
    for codec in none gzip snappy lz4 zstd; do
        records "$codec" | timeout 20 kcat -P "${common[@]}" -t "$topic" -p 0 -K: \
            -H h1=v1 -H h2=v2 -z "$codec" -X client.id=golden-kcat-$codec \
            || fail "kcat produce $codec"
    done
    records idempotent | timeout 20 kcat -P "${common[@]}" -t "$topic" -p 0 -K: \
        -H h1=v1 -H h2=v2 -X enable.idempotence=true -X client.id=golden-kcat-idempotent \
        || fail "kcat idempotent produce"
    timeout 20 kcat -C -b "$b" -t "$topic" -p 0 -o beginning -c 1 -e \
        -X client.id=golden-kcat-consumer -f 'consumed %k\n' || fail "kcat consume"
    timeout 20 kcat -b "$b" -G golden-kcat-group -o beginning -c 1 -e \
        -X client.id=golden-kcat-group-consumer -f 'consumed %k\n' "$topic" \
        || fail "kcat group consume"
    stop_server
    versions+=(--client-version "kcat=$(kcat -V 2>&1 | grep '^Version' | head -1)")
}

capture_java() {
    command -v javac > /dev/null || apt_install openjdk-17-jdk-headless
    command -v mvn > /dev/null || apt_install maven
    local jars=$cache/jars-$kafka_clients_version classes=$cache/classes
    if [ ! -f "$jars/kafka-clients-$kafka_clients_version.jar" ]; then
        rm -rf "$jars"
        (cd "$here/java" && mvn -q -B -Dmaven.repo.local="$cache/m2" \
            -Dkafka.version="$kafka_clients_version" dependency:copy-dependencies \
            -DincludeScope=runtime -DoutputDirectory="$jars")
    fi
    rm -rf "$classes" && mkdir -p "$classes"
    javac -nowarn -d "$classes" -cp "$jars/*" "$here/java/Capture.java"
    local port=$((base_port + 2))
    start_server java "$port"
    timeout 120 java -cp "$classes:$jars/*" Capture "127.0.0.1:$port" "$topic" 2>&1 \
        | grep -v '^SLF4J' || fail "java capture"
    stop_server
    versions+=(--client-version "java=org.apache.kafka:kafka-clients:$kafka_clients_version ($(ls "$jars" | grep -v kafka-clients | tr '\n' ' ' | sed 's/ $//'); $(java -version 2>&1 | head -1))")
}

capture_librdkafka() {
    local venv=$cache/venv
    if ! "$venv/bin/python" -c "import confluent_kafka as c; assert c.version() == '$confluent_kafka_version'" 2> /dev/null; then
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q "confluent-kafka==$confluent_kafka_version"
    fi
    local port=$((base_port + 3))
    start_server librdkafka "$port"
    timeout 120 "$venv/bin/python" "$here/librdkafka_capture.py" "127.0.0.1:$port" "$topic" \
        || fail "librdkafka capture"
    stop_server
    versions+=(--client-version "librdkafka=$("$venv/bin/python" -c 'import confluent_kafka as c; print("librdkafka %s via confluent-kafka (Python) %s" % (c.libversion()[0], c.version()))')")
}

for client in $clients; do
    echo "== capturing $client"
    "capture_$client"
done

python3 "$here/make_expected.py" "$golden" "${versions[@]}" || fail "make_expected"
du -sb "$golden"
if ((failures)); then
    echo "capture-all: $failures step(s) failed" >&2
    exit 1
fi
