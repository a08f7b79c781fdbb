# Copyright: (c) 2026, disnix.deploy developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Overlay upper-layer helpers for tests/lab/lab (run as root, on the controller).

  labfs.py opaque DIR...
      mark directories in an overlay upper layer opaque (hides the lower contents)
  labfs.py hide-nix UPPER
      make the host whose upper layer is UPPER look like Nix was never installed:
      whiteouts for every file of the Debian packages nix-bin, its libnix*
      dependencies and nix-setup-systemd (as listed by dpkg), for their
      /var/lib/dpkg/info files, for /nix and /etc/nix; and an upper copy of
      /var/lib/dpkg/status without those packages, so that `dpkg -i nix-bin_*.deb`
      in the host installs them like on a fresh machine.

The lower layer is always the real root file system "/".
"""
import os
import stat
import subprocess
import sys

STATUS = "/var/lib/dpkg/status"
INFO = "/var/lib/dpkg/info"


def set_opaque(path):
    os.setxattr(path, "trusted.overlay.opaque", b"y")


def upper_dirs(upper, path):
    """Create the parent directories of PATH in UPPER with the lower's owner and mode
    (an upper directory's attributes win in the merged view)."""
    parts = [p for p in os.path.dirname(path).split("/") if p]
    cur = ""
    for p in parts:
        cur += "/" + p
        dst = upper + cur
        if os.path.isdir(dst):
            continue
        st = os.stat(cur)
        os.mkdir(dst)
        os.chown(dst, st.st_uid, st.st_gid)
        os.chmod(dst, stat.S_IMODE(st.st_mode))


def whiteout(upper, path):
    if not os.path.lexists(path) or os.path.lexists(upper + path):
        return
    upper_dirs(upper, path)
    os.mknod(upper + path, stat.S_IFCHR | 0o600, os.makedev(0, 0))


def read_status():
    with open(STATUS, encoding="utf-8", errors="surrogateescape") as f:
        text = f.read()
    stanzas = [s for s in text.split("\n\n") if s.strip()]
    out = []
    for s in stanzas:
        fields = {}
        key = None
        for line in s.splitlines():
            if line[:1] in (" ", "\t") and key:
                fields[key] += "\n" + line
            elif ":" in line:
                key, _sep, val = line.partition(":")
                fields[key] = val.strip()
        out.append((s, fields))
    return out


def dep_names(depends):
    names = []
    for alt in depends.split(","):
        for d in alt.split("|"):
            d = d.strip().split(" ")[0].split(":")[0]
            if d:
                names.append(d)
    return names


def nix_packages(stanzas):
    by_name = {f.get("Package"): f for _text, f in stanzas}
    want = {"nix-bin", "nix-setup-systemd"}
    todo = [p for p in want if p in by_name]
    found = set()
    while todo:
        p = todo.pop()
        if p in found:
            continue
        found.add(p)
        for d in dep_names(by_name[p].get("Depends", "") + "," + by_name[p].get("Pre-Depends", "")):
            if d.startswith("libnix") and d in by_name:
                todo.append(d)
    return found


def fully_owned(d, owned, cache):
    """True if every entry below the real directory D belongs to OWNED."""
    if d in cache:
        return cache[d]
    ok = True
    try:
        with os.scandir(d) as it:
            for e in it:
                p = os.path.join(d, e.name)
                if p not in owned:
                    ok = False
                elif e.is_dir(follow_symlinks=False) and not fully_owned(p, owned, cache):
                    ok = False
                if not ok:
                    break
    except OSError:
        ok = False
    cache[d] = ok
    return ok


def hide_nix(upper):
    stanzas = read_status()
    pkgs = nix_packages(stanzas)
    owned = set()
    if pkgs:
        r = subprocess.run(["dpkg-query", "-L", *sorted(pkgs)], check=False,
                           capture_output=True, text=True)
        for line in r.stdout.splitlines():
            if line.startswith("/") and line not in ("/.", "/"):
                owned.add(os.path.normpath(line))
    cache = {}
    hidden = []
    for p in sorted(owned, key=lambda x: (x.count("/"), x)):
        if not os.path.lexists(p):
            continue
        if any(p.startswith(h + "/") for h in hidden):
            continue
        if os.path.isdir(p) and not os.path.islink(p):
            if not fully_owned(p, owned, cache):
                continue
        hidden.append(p)
    for p in hidden:
        whiteout(upper, p)
    # dpkg's own bookkeeping for those packages
    for name in os.listdir(INFO):
        base = name.rsplit(".", 1)[0].split(":")[0]
        if base in pkgs:
            whiteout(upper, os.path.join(INFO, name))
    for p in ("/nix", "/etc/nix"):
        whiteout(upper, p)
    # status without the packages: dpkg then sees them as never installed
    upper_dirs(upper, STATUS)
    keep = [s for s, f in stanzas if f.get("Package") not in pkgs]
    dst = upper + STATUS
    with open(dst, "w", encoding="utf-8", errors="surrogateescape") as f:
        f.write("\n\n".join(keep) + "\n")
    st = os.stat(STATUS)
    os.chmod(dst, stat.S_IMODE(st.st_mode))
    print(" ".join(sorted(pkgs)))


def main(argv):
    if len(argv) >= 2 and argv[0] == "opaque":
        for d in argv[1:]:
            set_opaque(d)
        return 0
    if len(argv) == 2 and argv[0] == "hide-nix":
        hide_nix(argv[1].rstrip("/"))
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
