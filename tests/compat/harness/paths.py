"""Where the harness finds the repository, its installed clients and tools.

Everything here is installed by scripts/install-deps.sh (which runs
scripts/install-clients.sh); nothing is downloaded at test time.
"""

import pathlib
import re
import shutil

COMPAT_DIR = pathlib.Path(__file__).resolve().parent.parent
REPO = COMPAT_DIR.parent.parent
DEPS = REPO / ".deps"
JAVA_DIR = COMPAT_DIR / "java"
JS_DIR = COMPAT_DIR / "js"
NODE_MODULES = DEPS / "node" / "node_modules"


def kafka_version():
    """The Apache Kafka version pinned by tests/compat/java/pom.xml."""
    text = (JAVA_DIR / "pom.xml").read_text()
    match = re.search(r"<kafka.version>([^<]+)</kafka.version>", text)
    if not match:
        raise RuntimeError("tests/compat/java/pom.xml has no kafka.version")
    return match.group(1)


def kafka_libs():
    """The directory holding every Kafka jar (broker, clients, tools)."""
    libs = DEPS / f"kafka-{kafka_version()}" / "libs"
    if not any(libs.glob("kafka-clients-*.jar")):
        raise RuntimeError(f"{libs} holds no Kafka jars: run scripts/install-deps.sh")
    return libs


def kafka_classpath():
    return str(kafka_libs() / "*")


def require_program(name):
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} is not on PATH: run scripts/install-deps.sh")
    return path
