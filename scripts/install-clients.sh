#!/usr/bin/env bash
# Installs the Kafka clients and the Apache Kafka broker that tests/compat
# drives, into .deps/ (git-ignored):
#   .deps/kafka-<version>/libs   Apache Kafka's jars from Maven Central: broker,
#                                Java client, command-line tools and their
#                                run-time dependencies (tests/compat/java/pom.xml)
#   .deps/node/node_modules      KafkaJS and its codecs from npm, exactly as
#                                pinned by tests/compat/js/package-lock.json
# confluent-kafka is in scripts/requirements-test.txt (installed into
# .deps/venv by install-deps.sh); kcat is a Debian package.
#
# Needs java, mvn, node and npm (install-deps.sh installs them first).
# Idempotent: each part is redone only when its pinning file changed, so a
# second run does nothing and touches no network.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
deps="$repo/.deps"
mkdir -p "$deps"

# Kafka jars. The version is the pom's kafka.version property.
pom="$repo/tests/compat/java/pom.xml"
kafka_version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom")
libs="$deps/kafka-$kafka_version/libs"
stamp="$deps/kafka-$kafka_version/.pom.sha256"
want=$(sha256sum "$pom" | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "install-clients: fetching Apache Kafka $kafka_version jars into $libs"
  rm -rf "$libs" "$stamp"
  mkdir -p "$libs"
  log="$deps/kafka-$kafka_version/mvn.log"
  if ! mvn -B -q -f "$pom" -Dmaven.repo.local="$deps/m2" \
      dependency:copy-dependencies -DoutputDirectory="$libs" >"$log" 2>&1; then
    cat "$log" >&2
    echo "install-clients: mvn failed (log above)" >&2
    exit 1
  fi
  echo "$want" > "$stamp"
fi

# KafkaJS and codecs: npm ci from the committed lock file, in a copy under
# .deps/node so that node_modules stays out of the source tree.
node_dir="$deps/node"
stamp="$node_dir/.lock.sha256"
want=$(cat "$repo/tests/compat/js/package.json" "$repo/tests/compat/js/package-lock.json" \
  | sha256sum | cut -d' ' -f1)
if [ ! -d "$node_dir/node_modules" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "install-clients: installing KafkaJS into $node_dir"
  rm -f "$stamp"
  mkdir -p "$node_dir"
  cp "$repo/tests/compat/js/package.json" "$repo/tests/compat/js/package-lock.json" "$node_dir/"
  log="$node_dir/npm.log"
  if ! (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error) >"$log" 2>&1; then
    cat "$log" >&2
    echo "install-clients: npm ci failed (log above)" >&2
    exit 1
  fi
  echo "$want" > "$stamp"
fi
