"""Test inputs of the bootstrap roles that cannot be downloaded on a lab host.

  bootstrap_fixtures.py debs DIR
      Download nix-bin (and any of its dependencies this machine lacks) into DIR with
      apt-get download, unless DIR already has them. Lab hosts are overlays of this machine,
      so they lack exactly nix-bin when started with --no-nix. Prints the .deb files.
  bootstrap_fixtures.py tarballs DIR
      Write dysnomia-0.0test.tar.gz and disnix-0.0test.tar.gz into DIR.

The tarballs stand in for Dysnomia's and Disnix's source releases, which cannot be
fetched here. They go through the same steps as the real ones (./configure
--prefix=... --with-job-template=..., make, make install) and install:
  dysnomia: bin/dysnomia (prints its version and job template), bin/dysnomia-containers
  disnix:   bin/disnix-service (a daemon that records who runs it, with which PATH, and
            stays up), etc/dbus-1/system.d/disnix.conf (policy for user root, like the
            real one), share/doc/disnix/disnix-service.initd (a Debian init.d script with
            PATH=, DAEMONUSER= and DAEMON= lines, like the real one)
The configure scripts reject unknown options and record their arguments, so a test can
check what the role passed.
"""

from __future__ import annotations

import gzip
import io
import os
import subprocess
import sys
import tarfile

VERSION = "0.0test"

CONFIGURE = r"""#!/bin/sh
# configure of a stand-in source tarball (tests of disnix.deploy's bootstrap roles)
prefix=/usr/local
job_template=systemd
for arg in "$@"; do
  case $arg in
    --prefix=*) prefix=${arg#--prefix=} ;;
    --with-job-template=*) job_template=${arg#--with-job-template=} ;;
    --with-systemd-rundir=* | --with-systemd-path=* | --with-* | --without-* | --enable-* | --disable-*) ;;
    *) echo "configure: unknown option $arg" >&2; exit 1 ;;
  esac
done
case $job_template in
  direct | systemd | init.d) ;;
  *) echo "configure: bad job template $job_template" >&2; exit 1 ;;
esac
printf '%s\n' "$@" > config.args
sed -e "s|@prefix@|$prefix|g" -e "s|@job_template@|$job_template|g" Makefile.in > Makefile
echo "configured @NAME@ for $prefix (job template $job_template)"
"""

MAKEFILE = """# Makefile.in of a stand-in source tarball
prefix = @prefix@
JOB_TEMPLATE = @job_template@

all: build/stamp

build/stamp: $(wildcard src/*)
\tmkdir -p build
\tfor f in src/*; do sed -e 's|%PREFIX%|$(prefix)|g' -e 's|%JOB_TEMPLATE%|$(JOB_TEMPLATE)|g' \\
\t  -e 's|%VERSION%|@VERSION@|g' "$$f" > "build/$${f#src/}"; done
\ttouch build/stamp

install: all
@INSTALL@
.PHONY: all install
"""

DYSNOMIA = {
    "src/dysnomia": """#!/bin/sh
# stand-in for Dysnomia %VERSION%
case "$1" in
  --version) echo "dysnomia (stand-in) %VERSION% job-template %JOB_TEMPLATE%" ;;
  *) echo "dysnomia stand-in: $*" ;;
esac
""",
    "src/dysnomia-containers": """#!/bin/sh
# stand-in for dysnomia-containers %VERSION%: lists the container files
ls "${DYSNOMIA_CONTAINERS_PATH:-/etc/dysnomia/containers}"
""",
}
DYSNOMIA_INSTALL = """\tinstall -d $(DESTDIR)$(prefix)/bin $(DESTDIR)$(prefix)/share/dysnomia
\tinstall -m 755 build/dysnomia build/dysnomia-containers $(DESTDIR)$(prefix)/bin/
\techo $(JOB_TEMPLATE) > $(DESTDIR)$(prefix)/share/dysnomia/job-template"""

DISNIX = {
    "src/disnix-service": """#!/bin/sh
# stand-in for disnix-service %VERSION%: records who runs it and how, then stays up
log=/tmp/disnix-service.log
{
  echo "user=$(id -un)"
  echo "path=$PATH"
  echo "home=$HOME"
  echo "dysnomia=$(command -v dysnomia)"
  echo "nix-store=$(command -v nix-store)"
} > "$log"
exec sleep 2147483647
""",
    "src/disnix.conf": """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<!-- stand-in for Disnix %VERSION%'s D-Bus policy -->
<busconfig>
  <policy user="root">
    <allow own="org.nixos.disnix.Disnix"/>
    <allow send_destination="org.nixos.disnix.Disnix"/>
  </policy>
  <policy group="disnix">
    <allow send_destination="org.nixos.disnix.Disnix"/>
  </policy>
</busconfig>
""",
    "src/disnix-service.initd": """#!/bin/sh
### BEGIN INIT INFO
# Provides:          disnix-service
# Required-Start:    $remote_fs dbus
# Required-Stop:     $remote_fs dbus
# Default-Start:     2 3 4 5
# Default-Stop:
# Short-Description: Disnix service (stand-in %VERSION%)
### END INIT INFO

PATH=/home/sander/.nix-profile/bin:/bin:/usr/bin:/sbin:/usr/sbin
NAME=disnix-service
DAEMONUSER=sander
DAEMON=/home/$DAEMONUSER/.nix-profile/bin/disnix-service
PIDFILE=/var/run/disnix-service.pid
export PATH

test -x "$DAEMON" || exit 0

case "$1" in
  start)
    start-stop-daemon --start --quiet --oknodo --background --make-pidfile \\
      --pidfile "$PIDFILE" --chuid "$DAEMONUSER" --startas "$DAEMON"
    ;;
  stop)
    start-stop-daemon --stop --quiet --oknodo --retry 5 --pidfile "$PIDFILE"
    rm -f "$PIDFILE"
    ;;
  restart | force-reload)
    "$0" stop
    "$0" start
    ;;
  status)
    if start-stop-daemon --status --pidfile "$PIDFILE"; then
      echo "$NAME is running"
      exit 0
    fi
    echo "$NAME is not running"
    exit 3
    ;;
  *)
    echo "Usage: $0 {start|stop|restart|force-reload|status}" >&2
    exit 1
    ;;
esac
exit 0
""",
}
DISNIX_INSTALL = """\tinstall -d $(DESTDIR)$(prefix)/bin $(DESTDIR)$(prefix)/etc/dbus-1/system.d
\tinstall -m 755 build/disnix-service $(DESTDIR)$(prefix)/bin/
\tinstall -m 644 build/disnix.conf $(DESTDIR)$(prefix)/etc/dbus-1/system.d/
\tinstall -d $(DESTDIR)$(prefix)/share/doc/disnix
\tinstall -m 755 build/disnix-service.initd $(DESTDIR)$(prefix)/share/doc/disnix/"""


def _add(tar: tarfile.TarFile, name: str, text: str, mode: int) -> None:
    data = text.encode()
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    info.mtime = 1_700_000_000  # fixed: the same input gives the same tarball
    tar.addfile(info, io.BytesIO(data))


def make_tarball(path: str, name: str, files: dict[str, str], install: str) -> str:
    """Write an autotools-like source tarball NAME-VERSION.tar.gz at PATH."""
    top = f"{name}-{VERSION}"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        _add(tar, f"{top}/configure", CONFIGURE.replace("@NAME@", name), 0o755)
        makefile = MAKEFILE.replace("@INSTALL@", install).replace("@VERSION@", VERSION)
        _add(tar, f"{top}/Makefile.in", makefile, 0o644)
        for rel, text in sorted(files.items()):
            _add(tar, f"{top}/{rel}", text, 0o755 if not rel.endswith(".conf") else 0o644)
    with open(path, "wb") as f:
        # mtime=0: byte-identical output on every run, so the roles see an unchanged tarball
        with gzip.GzipFile(fileobj=f, mode="wb", mtime=0) as gz:
            gz.write(buf.getvalue())
    return path


def tarballs(out_dir: str) -> dict[str, str]:
    os.makedirs(out_dir, exist_ok=True)
    return {
        "dysnomia": make_tarball(os.path.join(out_dir, f"dysnomia-{VERSION}.tar.gz"),
                                 "dysnomia", DYSNOMIA, DYSNOMIA_INSTALL),
        "disnix": make_tarball(os.path.join(out_dir, f"disnix-{VERSION}.tar.gz"),
                               "disnix", DISNIX, DISNIX_INSTALL),
    }


def _installed(pkg: str) -> bool:
    r = subprocess.run(["dpkg-query", "-W", "-f", "${db:Status-Status}", pkg],
                       capture_output=True, text=True, check=False)
    return r.returncode == 0 and r.stdout.strip() == "installed"


def debs(out_dir: str) -> list[str]:
    """nix-bin and the dependencies this machine lacks, as .deb files in OUT_DIR."""
    os.makedirs(out_dir, exist_ok=True)
    have = sorted(f for f in os.listdir(out_dir) if f.endswith(".deb"))
    if not any(f.startswith("nix-bin_") for f in have):
        r = subprocess.run(["apt-cache", "depends", "--no-recommends", "--no-suggests",
                            "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances",
                            "nix-bin"], capture_output=True, text=True, check=True)
        # "  Depends: x" lines, each followed by more deeply indented providers of x;
        # "|Depends:" starts an alternative that the next Depends line continues
        groups: list[list[str]] = []
        alternative = False
        for line in r.stdout.splitlines():
            stripped = line.strip()
            if stripped.startswith(("Depends:", "|Depends:")):
                name = stripped.split(":", 1)[1].strip().strip("<>")
                if alternative:
                    groups[-1].append(name)
                else:
                    groups.append([name])
                alternative = stripped.startswith("|")
            elif line.startswith("    ") and groups:
                groups[-1].append(stripped)
        missing = [g[0] for g in groups if not any(_installed(p) for p in g)]
        wanted = ["nix-bin"] + missing
        # apt-get download writes into the working directory
        subprocess.run(["apt-get", "download", "-q", *wanted], cwd=out_dir, check=True,
                       stdout=subprocess.DEVNULL)
        have = sorted(f for f in os.listdir(out_dir) if f.endswith(".deb"))
    return [os.path.join(out_dir, f) for f in have]


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "debs":
        print("\n".join(debs(argv[1])))
        return 0
    if len(argv) == 2 and argv[0] == "tarballs":
        for path in tarballs(argv[1]).values():
            print(path)
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
