# Lifecycle test services: `counter`, a stateful wrapper (deployState) whose state is
# /var/db/counter/state and whose snapshots go into Dysnomia's layout; `blob`, a package of
# about 1 MiB whose build changes with `version`, so each version is a new closure to collect.
# `stamp` goes into every build, so a test run gets builds of its own.
{ system, distribution, invDistribution, version ? "1", stamp ? "", ... }:

{
  counter = {
    name = "counter";
    type = "wrapper";
    deployState = true;
    pkg = derivation {
      name = "counter";
      inherit system stamp;
      builder = "/bin/sh";
      args = [ "-c" ''
        /bin/mkdir -p $out/bin
        /bin/cat > $out/bin/wrapper <<'WRAPPER'
        #!/bin/sh -e
        state=/var/db/counter
        snapshots=''${DYSNOMIA_STATEDIR:-/var/state/dysnomia}/snapshots/$2/counter
        generations=''${DYSNOMIA_STATEDIR:-/var/state/dysnomia}/generations/$2/counter
        case "$1" in
          activate)
            /bin/mkdir -p $state
            [ -e $state/state ] || echo 0 > $state/state
            /bin/touch /run/counter-active ;;
          deactivate)
            /bin/rm -f /run/counter-active ;;
          snapshot)
            hash=$(/usr/bin/sha256sum < $state/state | /usr/bin/cut -c1-64)
            /bin/mkdir -p $snapshots/$hash $generations
            /bin/cp $state/state $snapshots/$hash/state
            last=$(/bin/ls $generations | /usr/bin/sort -n | /usr/bin/tail -1)
            if [ -z "$last" ] || [ "$(/usr/bin/readlink $generations/$last)" != "../../../snapshots/$2/counter/$hash" ]; then
              /bin/ln -s ../../../snapshots/$2/counter/$hash $generations/$(( ''${last:-0} + 1 ))
            fi ;;
          restore)
            [ ! -e /tmp/counter-restore-fails ] || { echo "counter: restore refused (/tmp/counter-restore-fails)" >&2; exit 1; }
            last=$(/bin/ls $generations 2>/dev/null | /usr/bin/sort -n | /usr/bin/tail -1)
            if [ -n "$last" ]; then /bin/mkdir -p $state; /bin/cp $generations/$last/state $state/state; fi ;;
        esac
        WRAPPER
        /bin/chmod +x $out/bin/wrapper
      '' ];
    };
  };

  blob = {
    name = "blob";
    type = "package";
    pkg = derivation {
      name = "blob-${version}";
      inherit system stamp version;
      builder = "/bin/sh";
      args = [ "-c" ''
        /bin/mkdir -p $out/share
        /usr/bin/head -c 1048576 /dev/zero | /usr/bin/tr '\0' "$version" > $out/share/blob-$stamp
      '' ];
    };
  };
}
