"""Running Java: Kafka's command-line tools and the compat Java programs.

The programs in tests/compat/java/src (FloeCompatClient.java, the client
scenarios' client; FloeGroupMember.java, one consumer-group member) are
compiled at test time with javac against the installed Kafka jars; the
classes are cached in .deps/compat-java/<hash of the sources and Kafka
version>/ and reused while neither changes.
"""

import hashlib
import os
import shutil
import tempfile

from . import brokers, paths, procs

SOURCES = sorted((paths.JAVA_DIR / "src").glob("*.java"))
CACHE = paths.DEPS / "compat-java"


def compiled_client():
    """The directory holding the compiled programs (FloeCompatClient.class,
    FloeGroupMember.class), compiling when needed."""
    digest = hashlib.sha256(paths.kafka_version().encode())
    for source in SOURCES:
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    target = CACHE / digest.hexdigest()[:20]
    if all((target / f"{source.stem}.class").exists() for source in SOURCES):
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    staging = tempfile.mkdtemp(prefix="build-", dir=CACHE)
    try:
        code, out, err = procs.run([paths.require_program("javac"), "-nowarn", "-d", staging,
                                    "-cp", paths.kafka_classpath(),
                                    *[str(source) for source in SOURCES]],
                                   timeout=300)
        if code != 0:
            names = " ".join(source.name for source in SOURCES)
            raise RuntimeError(f"javac {names} failed (exit {code}):\n"
                               f"{out.decode(errors='replace')}{err.decode(errors='replace')}")
        try:
            os.rename(staging, target)
        except OSError:
            if not all((target / f"{source.stem}.class").exists() for source in SOURCES):
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def argv(main_class, args, *, heap="384m", classpath_extra=None, quick_start=False):
    """A java command line for main_class with Kafka's jars on the class path.

    quick_start: compile with C1 only (faster start and less CPU for
    short-lived tools; slower for long runs).
    """
    classpath = paths.kafka_classpath()
    if classpath_extra:
        classpath = f"{classpath_extra}{os.pathsep}{classpath}"
    options = [f"-Xmx{heap}", "-XX:+UseSerialGC", "-Djava.awt.headless=true",
               f"-Dlog4j2.configurationFile={brokers.jvm_log_config('tools')}"]
    if quick_start:
        options.append("-XX:TieredStopAtLevel=1")
    return [paths.require_program("java"), *options, "-cp", classpath, main_class,
            *[str(arg) for arg in args]]


def client_argv(*args):
    return argv("FloeCompatClient", args, heap="512m", classpath_extra=str(compiled_client()))


def group_member_argv(*args):
    """FloeGroupMember (one consumer-group member): small heap, C1 only, since
    several run at once on a small machine."""
    return argv("FloeGroupMember", args, heap="160m", classpath_extra=str(compiled_client()),
                quick_start=True)


def run_tool(main_class, args, *, timeout=180, input_bytes=None):
    """Runs one Kafka tool to completion: (exit code, stdout text, stderr text)."""
    code, out, err = procs.run(argv(main_class, args, quick_start=True), timeout=timeout,
                               input_bytes=input_bytes)
    return code, out.decode(errors="replace"), err.decode(errors="replace")
