# Test services: db <- api <- web (dependsOn), each a daemon that bakes the host of its
# dependency into its package, and a wrapper `guard` whose lock obeys /tmp/guard-veto.
# extra param `variant`: "fail" makes api's activation fail and gives db a new build;
# `stamp` goes into every build, so a test run gets builds of its own; `webNote` into web's only.
{ system, distribution, invDistribution, variant ? "good", stamp ? "", webNote ? "", ... }:

let
  daemon = { name, config, fail ? false }: derivation {
    inherit name system config stamp;
    builder = "/bin/sh";
    failFlag = if fail then "1" else "0";
    args = [ "-c" ''
      /bin/mkdir -p $out/bin
      {
        echo '#!/bin/sh'
        echo "# $config"
        if [ "$failFlag" = 1 ]; then echo "echo '${name}: refusing to start (variant fail)' >&2; exit 1"; fi
        echo '/usr/bin/setsid /bin/sleep 1000000 </dev/null >/dev/null 2>&1 &'
        echo 'echo $! > "''${runtimeDir:-/var/run}/${name}.pid"'
      } > $out/bin/${name}
      /bin/chmod +x $out/bin/${name}
    '' ];
  };

  wrapper = derivation {
    name = "guard";
    inherit system stamp;
    builder = "/bin/sh";
    args = [ "-c" ''
      /bin/mkdir -p $out/bin
      cat_veto='[ -e /tmp/guard-veto ] && exit 1'
      printf '#!/bin/sh\ncase "$1" in\n  activate) /bin/touch /tmp/guard-active ;;\n  deactivate) /bin/rm -f /tmp/guard-active ;;\n  lock) %s ;;\nesac\nexit 0\n' "$cat_veto" > $out/bin/wrapper
      /bin/chmod +x $out/bin/wrapper
    '' ];
  };
in
rec {
  db = {
    name = "db";
    type = "process";
    pkg = daemon { name = "db"; config = "db ${if variant == "fail" then "v2" else "v1"}"; };
  };

  api = {
    name = "api";
    type = "process";
    dependsOn = { inherit db; };
    pkg = { db }: daemon {
      name = "api";
      config = "db at ${db.target.properties.hostname}";
      fail = variant == "fail";
    };
  };

  web = {
    name = "web";
    type = "process";
    dependsOn = { inherit api; };
    pkg = { api }: daemon { name = "web"; config = "api at ${api.target.properties.hostname}${webNote}"; };
  };

  guard = {
    name = "guard";
    type = "wrapper";
    pkg = wrapper;
  };
}
